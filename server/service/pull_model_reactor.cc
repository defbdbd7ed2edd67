#include "server/service/pull_model_reactor.h"

#include <fmt/format.h>

#include <algorithm>

#include "server/service/grpc_status.h"

namespace murmur::server {

PullModelReactor::PullModelReactor(const RoundEngine& engine, const v1::PullModelRequest& request,
                                   uint32_t chunk_bytes)
    : offset_(request.offset()), chunk_bytes_(std::max<uint32_t>(chunk_bytes, 1)) {
  // Model versions are for registered clients only.
  const Status auth = engine.Authenticate(request.client_id(), request.session_token());
  if (!auth.ok()) {
    Finish(ToGrpcStatus(auth));
    return;
  }
  Result<SnapshotPtr> snap = engine.Snapshot(request.model_version());
  if (!snap.ok()) {
    Finish(ToGrpcStatus(snap.status()));
    return;
  }
  snapshot_ = std::move(*snap);
  const ModelSnapshot& s = *snapshot_;
  if (offset_ > s.bytes.size()) {
    Finish(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        fmt::format("offset {} is past the end of version {} ({} bytes)", offset_,
                                    s.version, s.bytes.size())));
    return;
  }
  msg_.set_model_version(s.version);
  msg_.set_encoding(static_cast<v1::Encoding>(s.encoding));
  msg_.mutable_chunk()->set_total_bytes(s.bytes.size());
  msg_.mutable_chunk()->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
  msg_.mutable_chunk()->mutable_checksum()->set_value(s.checksum);
  WriteNext();
}

// Writes the chunk at offset_ (an empty one for an empty tail, so that
// every successful pull carries the version and the total size).
void PullModelReactor::WriteNext() {
  const std::string& bytes = snapshot_->bytes;
  const size_t n = std::min<size_t>(chunk_bytes_, bytes.size() - offset_);
  msg_.mutable_chunk()->set_offset(offset_);
  msg_.mutable_chunk()->set_data(bytes.data() + offset_, n);
  offset_ += n;
  StartWrite(&msg_);
}

void PullModelReactor::OnWriteDone(bool ok) {
  if (!ok) {  // the client went away or the call was cancelled
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "model stream closed by the client"));
    return;
  }
  if (offset_ >= snapshot_->bytes.size()) {
    Finish(grpc::Status::OK);
    return;
  }
  WriteNext();
}

}  // namespace murmur::server
