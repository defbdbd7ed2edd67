#include "server/service/coordinator_service.h"

#include <fmt/format.h>
#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/logging.h"
#include "server/engine/client_credential.h"
#include "server/service/grpc_status.h"
#include "server/service/pull_model_reactor.h"
#include "server/service/push_update_reactor.h"

namespace murmur::server {
namespace {

ServiceOptions Clamped(ServiceOptions o) {
  o.max_chunk_bytes = std::clamp<uint32_t>(o.max_chunk_bytes, 1, kMaxWireChunkBytes);
  o.default_chunk_bytes = std::clamp<uint32_t>(o.default_chunk_bytes, 1, o.max_chunk_bytes);
  return o;
}

// A unary call answered at once (the engine's front methods do not block).
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const grpc::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(s);
  return reactor;
}

// The credential a Register binds the name to: over mTLS (a verified client
// certificate) its common name, which must equal the name; otherwise the
// request's enrollment secret.
Result<std::string> RegisterCredential(const grpc::CallbackServerContext& context,
                                       const v1::RegisterRequest& request) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return CredentialFromEnrollmentSecret(request.enrollment_secret());
  }
  const std::vector<grpc::string_ref> cns = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (cns.empty()) {
    return PermissionDeniedError("the client certificate has no common name to bind the name to");
  }
  const std::string cn(cns.front().data(), cns.front().size());
  if (cn != request.client_name()) {
    return PermissionDeniedError(
        fmt::format("client name '{}' does not match the client certificate's common name '{}'",
                    request.client_name(), cn));
  }
  return CredentialFromCertificate(cn);
}

}  // namespace

CoordinatorService::CoordinatorService(RoundEngine* engine, ServiceOptions options)
    : engine_(engine),
      options_(Clamped(options)),
      push_budget_(options_.max_inflight_bytes, options_.max_inflight_pushes) {}

grpc::ServerUnaryReactor* CoordinatorService::Register(grpc::CallbackServerContext* context,
                                                       const v1::RegisterRequest* request,
                                                       v1::RegisterResponse* response) {
  ClientCapabilities caps;
  caps.device = request->capabilities().device();
  caps.memory_bytes = request->capabilities().memory_bytes();
  caps.num_samples = request->capabilities().num_samples();
  caps.max_local_steps = request->capabilities().max_local_steps();
  // The codec's Encoding values equal murmur.v1.Encoding's; a value this
  // coordinator does not know is kept as is (it matches no job encoding).
  for (int e : request->capabilities().encodings()) {
    caps.encodings.push_back(static_cast<Encoding>(e >= 0 && e <= 255 ? e : 0));
  }
  Result<std::string> credential = RegisterCredential(*context, *request);
  if (!credential.ok()) {
    log::Info("registration refused",
              {{"name", request->client_name()}, {"reason", credential.status().message()}});
    return Answer(context, ToGrpcStatus(credential.status()));
  }
  Result<Registration> r = engine_->Register(request->client_name(), caps, *credential);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kPermissionDenied) {
      log::Warn("registration refused: name bound to another credential",
                {{"name", request->client_name()}, {"peer", context->peer()}});
    }
    return Answer(context, ToGrpcStatus(r.status()));
  }
  response->set_client_id(r->client_id);
  response->set_session_token(r->token);
  response->set_model_version(r->model_version);
  response->set_model_bytes(r->model_bytes);
  for (const TensorSpec& t : r->model_spec) {
    v1::TensorSpec* w = response->add_model_spec();
    w->set_name(t.name);
    for (int64_t d : t.shape) w->add_shape(d);
  }
  log::Debug("client registered", {{"client", r->client_id}, {"name", request->client_name()}});
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::CheckIn(grpc::CallbackServerContext* context,
                                                      const v1::CheckInRequest* request,
                                                      v1::CheckInResponse* response) {
  Result<CheckInDecision> d =
      engine_->CheckIn(request->client_id(), request->session_token(), request->intended_local_steps());
  if (!d.ok()) return Answer(context, ToGrpcStatus(d.status()));
  switch (d->kind) {
    case CheckInDecision::Kind::kTrain: {
      auto* train = response->mutable_train();
      train->set_model_version(d->model_version);
      train->set_model_bytes(d->model_bytes);
      train->set_local_steps(d->local_steps);
      train->set_have_current(request->have_version() != 0 &&
                              request->have_version() == d->model_version);
      const TrainingRecipe recipe = engine_->recipe();
      auto* cfg = train->mutable_config();
      cfg->set_local_learning_rate(recipe.local_lr);
      cfg->set_batch_size(recipe.batch_size);
      cfg->set_min_local_steps(recipe.min_local_steps);
      cfg->set_max_local_steps(recipe.max_local_steps);
      cfg->set_optimizer(recipe.optimizer);
      cfg->set_momentum(recipe.momentum);
      cfg->set_update_encoding(static_cast<v1::Encoding>(recipe.update_encoding));
      cfg->set_model_spec_hash(recipe.model_spec_hash);
      break;
    }
    case CheckInDecision::Kind::kWait:
      response->mutable_wait()->set_retry_after_s(d->retry_after_s);
      response->mutable_wait()->set_reason(d->reason);
      break;
    case CheckInDecision::Kind::kFinished:
      response->mutable_finished()->set_final_version(d->model_version);
      response->mutable_finished()->set_reason(d->reason);
      break;
  }
  return Answer(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::ModelChunk>* CoordinatorService::PullModel(
    grpc::CallbackServerContext*, const v1::PullModelRequest* request) {
  const uint32_t chunk = request->max_chunk_bytes() == 0
                             ? options_.default_chunk_bytes
                             : std::min(request->max_chunk_bytes(), options_.max_chunk_bytes);
  return new PullModelReactor(*engine_, *request, chunk);
}

grpc::ServerReadReactor<v1::PushUpdateMessage>* CoordinatorService::PushUpdate(
    grpc::CallbackServerContext* context, v1::PushUpdateResponse* response) {
  return new PushUpdateReactor(engine_, &push_budget_, &push_outcomes_, context, response);
}

grpc::ServerUnaryReactor* CoordinatorService::Leave(grpc::CallbackServerContext* context,
                                                    const v1::LeaveRequest* request,
                                                    v1::LeaveResponse*) {
  return Answer(context, ToGrpcStatus(engine_->Leave(request->client_id(), request->session_token())));
}

}  // namespace murmur::server
