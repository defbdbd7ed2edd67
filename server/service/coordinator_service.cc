#include "server/service/coordinator_service.h"

#include <fmt/format.h>

#include "common/checksum.h"
#include "common/logging.h"
#include "server/service/grpc_status.h"
#include "server/service/push_update_reactor.h"

namespace murmur::server {
CoordinatorService::CoordinatorService(RoundEngine* engine, ServiceOptions options)
    : engine_(engine), options_(options) {}

grpc::Status CoordinatorService::Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                                          v1::RegisterResponse* response) {
  ClientCapabilities caps;
  caps.device = request->capabilities().device();
  caps.memory_bytes = request->capabilities().memory_bytes();
  caps.num_samples = request->capabilities().num_samples();
  caps.max_local_steps = request->capabilities().max_local_steps();
  Result<Registration> r = engine_->Register(request->client_name(), caps);
  if (!r.ok()) return ToGrpcStatus(r.status());
  response->set_client_id(r->client_id);
  response->set_session_token(r->token);
  response->set_model_version(r->model_version);
  response->set_model_bytes(r->model_bytes);
  log::Debug("client registered", {{"client", r->client_id}, {"name", request->client_name()}});
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                                         v1::CheckInResponse* response) {
  Result<CheckInDecision> d =
      engine_->CheckIn(request->client_id(), request->session_token(), request->intended_local_steps());
  if (!d.ok()) return ToGrpcStatus(d.status());
  switch (d->kind) {
    case CheckInDecision::Kind::kTrain: {
      auto* train = response->mutable_train();
      train->set_model_version(d->model_version);
      train->set_model_bytes(d->model_bytes);
      train->set_local_steps(d->local_steps);
      const TrainingRecipe& recipe = engine_->config().recipe;
      auto* cfg = train->mutable_config();
      cfg->set_local_learning_rate(recipe.local_lr);
      cfg->set_batch_size(recipe.batch_size);
      cfg->set_min_local_steps(recipe.min_local_steps);
      cfg->set_max_local_steps(recipe.max_local_steps);
      cfg->set_optimizer("sgd");
      cfg->set_update_encoding(static_cast<v1::Encoding>(recipe.update_encoding));
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
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::PullModel(grpc::ServerContext* context,
                                           const v1::PullModelRequest* request,
                                           grpc::ServerWriter<v1::ModelChunk>* writer) {
  // Model versions are public to registered clients only.
  Result<SnapshotPtr> snap = engine_->Snapshot(request->model_version());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  const ModelSnapshot& s = **snap;
  if (request->offset() > s.bytes.size()) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        fmt::format("offset {} is past the end of version {} ({} bytes)",
                                    request->offset(), s.version, s.bytes.size()));
  }
  uint32_t chunk = request->max_chunk_bytes() == 0 ? options_.default_chunk_bytes
                                                   : request->max_chunk_bytes();
  chunk = std::min(chunk, options_.max_chunk_bytes);
  v1::ModelChunk msg;
  msg.set_model_version(s.version);
  msg.set_encoding(static_cast<v1::Encoding>(s.encoding));
  msg.mutable_chunk()->set_total_bytes(s.bytes.size());
  msg.mutable_chunk()->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
  msg.mutable_chunk()->mutable_checksum()->set_value(s.checksum);
  uint64_t offset = request->offset();
  do {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    const size_t n = std::min<size_t>(chunk, s.bytes.size() - offset);
    msg.mutable_chunk()->set_offset(offset);
    msg.mutable_chunk()->set_data(s.bytes.data() + offset, n);
    if (!writer->Write(msg)) return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
    offset += n;
  } while (offset < s.bytes.size());
  return grpc::Status::OK;
}

grpc::ServerReadReactor<v1::PushUpdateMessage>* CoordinatorService::PushUpdate(
    grpc::CallbackServerContext*, v1::PushUpdateResponse* response) {
  return new PushUpdateReactor(engine_, response);
}

grpc::Status CoordinatorService::Leave(grpc::ServerContext*, const v1::LeaveRequest* request,
                                       v1::LeaveResponse*) {
  return ToGrpcStatus(engine_->Leave(request->client_id(), request->session_token()));
}

}  // namespace murmur::server
