#include "client/transport/grpc_coordinator.h"

#include <fmt/format.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>

#include "common/checksum.h"

namespace murmur::client {
namespace {

// The codec's Encoding values equal murmur.v1.Encoding's. The field is
// informational (every payload names its tensors' encodings); an unset or
// unknown value reads as fp32, the proto3 default.
Encoding FromWire(v1::Encoding e) {
  const int v = static_cast<int>(e);
  if (v < static_cast<int>(Encoding::kFp32) || v > static_cast<int>(Encoding::kInt8)) {
    return Encoding::kFp32;
  }
  return static_cast<Encoding>(v);
}

v1::Encoding ToWire(Encoding e) { return static_cast<v1::Encoding>(static_cast<int>(e)); }

api::TrainingRecipe FromWire(const v1::TrainingConfig& c) {
  api::TrainingRecipe r;
  r.local_lr = c.local_learning_rate();
  r.batch_size = c.batch_size();
  r.min_local_steps = c.min_local_steps();
  r.max_local_steps = c.max_local_steps();
  r.update_encoding = FromWire(c.update_encoding());
  // An older coordinator sends no optimizer: it meant plain SGD.
  r.optimizer = c.optimizer().empty() ? "sgd" : c.optimizer();
  r.momentum = c.momentum();
  r.model_spec_hash = c.model_spec_hash();
  return r;
}

}  // namespace

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return Status();
  return Status(static_cast<StatusCode>(s.error_code()), s.error_message());
}

GrpcCoordinator::GrpcCoordinator(std::shared_ptr<grpc::Channel> channel,
                                 GrpcCoordinatorOptions options)
    : stub_(v1::Coordinator::NewStub(std::move(channel))), options_(options) {}

Status GrpcCoordinator::CheckRegistered() const {
  if (client_id_ == 0) return FailedPreconditionError("not registered: call Register first");
  return Status();
}

void GrpcCoordinator::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options_.rpc_timeout_s * 1000)));
}

Result<api::Registration> GrpcCoordinator::Register(const std::string& client_name,
                                                    const api::ClientCapabilities& capabilities,
                                                    const std::string& enrollment_secret) {
  v1::RegisterRequest req;
  req.set_client_name(client_name);
  req.set_enrollment_secret(enrollment_secret);
  v1::Capabilities* caps = req.mutable_capabilities();
  caps->set_device(capabilities.device);
  caps->set_memory_bytes(capabilities.memory_bytes);
  caps->set_num_samples(capabilities.num_samples);
  caps->set_max_local_steps(capabilities.max_local_steps);
  for (Encoding e : capabilities.encodings) caps->add_encodings(ToWire(e));
  v1::RegisterResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(stub_->Register(&ctx, req, &resp)));
  client_id_ = resp.client_id();
  token_ = resp.session_token();
  api::Registration r{.client_id = resp.client_id(),
                      .token = resp.session_token(),
                      .model_version = resp.model_version(),
                      .model_bytes = resp.model_bytes()};
  for (const v1::TensorSpec& t : resp.model_spec()) {
    r.model_spec.push_back(TensorSpec{t.name(), Shape(t.shape().begin(), t.shape().end())});
  }
  return r;
}

Result<api::CheckInDecision> GrpcCoordinator::CheckIn(uint32_t intended_local_steps,
                                                      uint64_t have_version) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  v1::CheckInRequest req;
  req.set_client_id(client_id_);
  req.set_session_token(token_);
  req.set_intended_local_steps(intended_local_steps);
  req.set_have_version(have_version);
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(stub_->CheckIn(&ctx, req, &resp)));
  api::CheckInDecision d;
  switch (resp.decision_case()) {
    case v1::CheckInResponse::kTrain:
      d.kind = api::CheckInDecision::Kind::kTrain;
      d.model_version = resp.train().model_version();
      d.model_bytes = resp.train().model_bytes();
      d.local_steps = resp.train().local_steps();
      d.recipe = FromWire(resp.train().config());
      d.have_current = resp.train().have_current();
      break;
    case v1::CheckInResponse::kWait:
      d.kind = api::CheckInDecision::Kind::kWait;
      d.retry_after_s = resp.wait().retry_after_s();
      d.reason = resp.wait().reason();
      break;
    case v1::CheckInResponse::kFinished:
      d.kind = api::CheckInDecision::Kind::kFinished;
      d.model_version = resp.finished().final_version();
      d.reason = resp.finished().reason();
      break;
    case v1::CheckInResponse::DECISION_NOT_SET:
      return Status(StatusCode::kUnknown, "the coordinator answered a check-in with no decision");
  }
  return d;
}

Result<api::PulledModel> GrpcCoordinator::PullModel(uint64_t version) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  api::PulledModel out;
  out.version = version;
  uint64_t total = 0, checksum = 0;
  bool have_total = false;
  Status last;
  for (int attempt = 0; attempt < options_.max_pull_attempts; ++attempt) {
    v1::PullModelRequest req;
    req.set_client_id(client_id_);
    req.set_session_token(token_);
    req.set_model_version(out.version);
    req.set_offset(out.bytes.size());  // resume where the last stream broke
    req.set_max_chunk_bytes(options_.chunk_bytes);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto reader = stub_->PullModel(&ctx, req);
    v1::ModelChunk msg;
    while (reader->Read(&msg)) {
      const v1::Chunk& c = msg.chunk();
      if (!have_total) {
        total = c.total_bytes();
        checksum = c.checksum().value();
        out.version = msg.model_version();
        out.encoding = FromWire(msg.encoding());
        out.bytes.reserve(total);
        have_total = true;
      }
      if (msg.model_version() != out.version || c.total_bytes() != total ||
          c.offset() != out.bytes.size() || c.offset() + c.data().size() > total) {
        ctx.TryCancel();
        return DataLossError(fmt::format(
            "model stream out of order: chunk at offset {} (+{}) of version {} while holding {} of "
            "{} bytes of version {}",
            c.offset(), c.data().size(), msg.model_version(), out.bytes.size(), total, out.version));
      }
      out.bytes.append(c.data());
    }
    last = FromGrpcStatus(reader->Finish());
    if (last.ok() && have_total && out.bytes.size() == total) {
      if (Xxh3(out.bytes) != checksum) {
        return DataLossError(fmt::format("model version {} failed its checksum", out.version));
      }
      return out;
    }
    if (last.ok()) last = DataLossError(fmt::format("model version {} stream ended early", out.version));
    if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kDataLoss &&
        last.code() != StatusCode::kDeadlineExceeded) {
      break;  // not transient: do not retry
    }
  }
  return last;
}

Result<api::UpdateOutcome> GrpcCoordinator::PushUpdate(const api::UpdateToPush& update) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::PushUpdateResponse resp;
  auto writer = stub_->PushUpdate(&ctx, &resp);
  v1::PushUpdateMessage msg;
  v1::UpdateHeader* h = msg.mutable_header();
  h->set_client_id(client_id_);
  h->set_session_token(token_);
  h->set_base_version(update.base_version);
  h->set_local_steps(update.local_steps);
  h->set_num_samples(update.num_samples);
  h->set_mean_loss(update.mean_loss);
  h->set_total_bytes(update.payload.size());
  h->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
  h->mutable_checksum()->set_value(Xxh3(update.payload));
  h->set_train_seconds(update.train_seconds);
  bool ok = writer->Write(msg);
  for (size_t off = 0; ok && off < update.payload.size(); off += options_.chunk_bytes) {
    v1::PushUpdateMessage chunk_msg;
    v1::Chunk* c = chunk_msg.mutable_chunk();
    c->set_offset(off);
    c->set_data(update.payload.data() + off,
                std::min<size_t>(options_.chunk_bytes, update.payload.size() - off));
    ok = writer->Write(chunk_msg);
  }
  writer->WritesDone();
  // A busy coordinator answers UNAVAILABLE: it stays an error (transient).
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  return api::UpdateOutcome{
      .accepted = resp.accepted(),
      .reason = static_cast<api::RejectReason>(static_cast<int>(resp.reject_reason())),
      .message = resp.message(),
      .staleness = resp.staleness(),
      .round_version = resp.round_version()};
}

Status GrpcCoordinator::Leave(const std::string& reason) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  v1::LeaveRequest req;
  req.set_client_id(client_id_);
  req.set_session_token(token_);
  req.set_reason(reason);
  v1::LeaveResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return FromGrpcStatus(stub_->Leave(&ctx, req, &resp));
}

}  // namespace murmur::client
