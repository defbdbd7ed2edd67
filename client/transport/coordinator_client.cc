#include "client/transport/coordinator_client.h"

#include <fmt/format.h>
#include <grpcpp/client_context.h>

#include <chrono>

#include "common/checksum.h"

namespace murmur::client {

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return Status();
  return Status(static_cast<StatusCode>(s.error_code()), s.error_message());
}

CoordinatorClient::CoordinatorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : stub_(v1::Coordinator::NewStub(std::move(channel))), options_(options) {}

void CoordinatorClient::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options_.rpc_timeout_s * 1000)));
}

Result<v1::RegisterResponse> CoordinatorClient::Register(const std::string& client_name,
                                                         const v1::Capabilities& capabilities) {
  v1::RegisterRequest req;
  req.set_client_name(client_name);
  *req.mutable_capabilities() = capabilities;
  v1::RegisterResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(stub_->Register(&ctx, req, &resp)).WithContext("Register"));
  client_id_ = resp.client_id();
  token_ = resp.session_token();
  return resp;
}

Result<v1::CheckInResponse> CoordinatorClient::CheckIn(uint32_t intended_local_steps,
                                                       uint64_t have_version) {
  v1::CheckInRequest req;
  req.set_client_id(client_id_);
  req.set_session_token(token_);
  req.set_intended_local_steps(intended_local_steps);
  req.set_have_version(have_version);
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(stub_->CheckIn(&ctx, req, &resp)).WithContext("CheckIn"));
  return resp;
}

Result<PulledModel> CoordinatorClient::PullModel(uint64_t version) {
  PulledModel out;
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
        out.encoding = msg.encoding();
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
    if (last.ok()) last = DataLossError("model stream ended early");
    if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kDataLoss &&
        last.code() != StatusCode::kDeadlineExceeded) {
      break;  // not transient: do not retry
    }
  }
  return last.WithContext(fmt::format("PullModel version {}", version));
}

Result<v1::PushUpdateResponse> CoordinatorClient::PushUpdate(const UpdateToPush& update) {
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
  h->set_encoding(update.encoding);
  h->set_total_bytes(update.payload.size());
  h->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
  h->mutable_checksum()->set_value(Xxh3(update.payload));
  h->set_step_normalized(update.step_normalized);
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
  MURMUR_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()).WithContext("PushUpdate"));
  return resp;
}

Status CoordinatorClient::Leave(const std::string& reason) {
  v1::LeaveRequest req;
  req.set_client_id(client_id_);
  req.set_session_token(token_);
  req.set_reason(reason);
  v1::LeaveResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return FromGrpcStatus(stub_->Leave(&ctx, req, &resp)).WithContext("Leave");
}

}  // namespace murmur::client
