#include "server/service/push_update_reactor.h"

#include <fmt/format.h>

#include "common/checksum.h"
#include "common/logging.h"

namespace murmur::server {

PushUpdateReactor::PushUpdateReactor(RoundEngine* engine, v1::PushUpdateResponse* response)
    : engine_(engine), response_(response) {
  StartRead(&msg_);
}

void PushUpdateReactor::OnReadDone(bool ok) {
  if (!ok) {  // the client finished sending (or went away)
    if (!have_header_) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "PushUpdate must start with an UpdateHeader message"));
      return;
    }
    Submit();
    return;
  }
  if (!have_header_) {
    if (!msg_.has_header()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "PushUpdate must start with an UpdateHeader message"));
      return;
    }
    header_ = msg_.header();
    have_header_ = true;
    too_large_ = header_.total_bytes() > engine_->config().max_update_bytes;
    if (!too_large_) payload_.reserve(header_.total_bytes());
  } else if (!msg_.has_chunk()) {
    problem_ = "a second header arrived in the same stream";
  } else {
    OnChunk(msg_.chunk());
  }
  StartRead(&msg_);
}

void PushUpdateReactor::OnChunk(const v1::Chunk& c) {
  if (too_large_ || !problem_.empty()) return;  // drain the stream, keep nothing
  if (c.offset() != payload_.size()) {
    problem_ = fmt::format("chunk at offset {} but {} bytes were received so far", c.offset(),
                           payload_.size());
    return;
  }
  if (payload_.size() + c.data().size() > header_.total_bytes()) {
    problem_ = fmt::format("chunks exceed the announced {} bytes", header_.total_bytes());
    return;
  }
  payload_.append(c.data());
}

void PushUpdateReactor::Reject(RejectReason reason, std::string message) {
  log::Info("update rejected", {{"client", header_.client_id()}, {"reason", message}});
  response_->set_accepted(false);
  response_->set_reject_reason(static_cast<v1::RejectReason>(static_cast<int>(reason)));
  response_->set_message(std::move(message));
  Finish(grpc::Status::OK);
}

void PushUpdateReactor::Submit() {
  if (too_large_) {
    return Reject(RejectReason::kTooLarge,
                  fmt::format("update of {} bytes is over the limit of {}", header_.total_bytes(),
                              engine_->config().max_update_bytes));
  }
  if (problem_.empty() && payload_.size() != header_.total_bytes()) {
    problem_ = fmt::format("stream ended after {} of {} bytes", payload_.size(),
                           header_.total_bytes());
  }
  if (problem_.empty() && header_.checksum().kind() != v1::CHECKSUM_XXH3_64) {
    problem_ = "the update header carries no XXH3-64 checksum";
  }
  if (problem_.empty() && Xxh3(payload_) != header_.checksum().value()) {
    problem_ = "payload checksum mismatch";
  }
  if (!problem_.empty()) return Reject(RejectReason::kMalformed, problem_);
  UpdateMeta meta;
  meta.client_id = header_.client_id();
  meta.token = header_.session_token();
  meta.base_version = header_.base_version();
  meta.local_steps = header_.local_steps();
  meta.num_samples = header_.num_samples();
  meta.mean_loss = header_.mean_loss();
  const uint64_t client = header_.client_id();
  engine_->SubmitUpdateAsync(meta, std::move(payload_), [this, client](const UpdateOutcome& o) {
    if (o.reason == RejectReason::kBusy) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, o.message));
      return;
    }
    if (!o.accepted) {
      log::Info("update rejected", {{"client", client}, {"reason", o.message}});
    }
    response_->set_accepted(o.accepted);
    response_->set_reject_reason(static_cast<v1::RejectReason>(static_cast<int>(o.reason)));
    response_->set_message(o.message);
    response_->set_staleness(o.staleness);
    response_->set_round_version(o.round_version);
    Finish(grpc::Status::OK);
  });
}

}  // namespace murmur::server
