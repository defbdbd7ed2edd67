#include "server/service/push_update_reactor.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace murmur::server {

PushUpdateReactor::PushUpdateReactor(RoundEngine* engine, InflightBudget* budget,
                                     PushOutcomes* outcomes,
                                     grpc::CallbackServerContext* context,
                                     v1::PushUpdateResponse* response)
    : engine_(engine), budget_(budget), outcomes_(outcomes), context_(context),
      response_(response) {
  StartRead(&msg_);
}

void PushUpdateReactor::OnReadDone(bool ok) {
  if (!have_header_) {
    if (!ok && context_->IsCancelled()) return FinishCancelled();
    if (!ok || !msg_.has_header()) {
      outcomes_->Record(RejectReason::kMalformed);
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "PushUpdate must start with an UpdateHeader message"));
      return;
    }
    return OnHeader();
  }
  if (!ok) return OnStreamEnd();
  if (!msg_.has_chunk()) {
    problem_ = "a second header arrived in the same stream";
    std::string().swap(payload_);  // keep nothing while draining
  } else {
    OnChunk(msg_.chunk());
  }
  StartRead(&msg_);
}

void PushUpdateReactor::OnHeader() {
  header_ = std::move(*msg_.mutable_header());
  have_header_ = true;
  const Status auth = engine_->Authenticate(header_.client_id(), header_.session_token());
  if (!auth.ok()) {
    // Answered as the engine answers an update with a bad session, but
    // before a byte of payload is read, and without touching the engine.
    return Reject(auth.code() == StatusCode::kNotFound ? RejectReason::kUnknownClient
                                                       : RejectReason::kBadToken,
                  auth.message());
  }
  const uint64_t total = header_.total_bytes();
  const uint64_t limit = engine_->config().max_update_bytes;
  if (total > limit) {
    return Reject(RejectReason::kTooLarge,
                  fmt::format("update of {} bytes is over the limit of {}", total, limit));
  }
  if (total > budget_->max_bytes()) {
    return Reject(RejectReason::kTooLarge,
                  fmt::format("update of {} bytes is over the limit of {} (the service's in-flight "
                              "budget)",
                              total, budget_->max_bytes()));
  }
  std::optional<InflightBudget::Lease> lease = budget_->TryAcquire(total);
  if (!lease) {
    outcomes_->Record(RejectReason::kBusy);
    Finish(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        fmt::format("busy, retry: {} pushes hold {} of {} in-flight bytes (limit {} pushes); this "
                    "update needs {}",
                    budget_->streams_in_flight(), budget_->bytes_in_flight(), budget_->max_bytes(),
                    budget_->max_streams(), total)));
    return;
  }
  lease_ = std::move(*lease);
  payload_.reserve(total);
  StartRead(&msg_);
}

void PushUpdateReactor::OnChunk(const v1::Chunk& c) {
  if (!problem_.empty()) return;  // drain the stream, keep nothing
  if (c.offset() != payload_.size()) {
    problem_ = fmt::format("chunk at offset {} but {} bytes were received so far", c.offset(),
                           payload_.size());
  } else if (payload_.size() + c.data().size() > header_.total_bytes()) {
    problem_ = fmt::format("chunks exceed the announced {} bytes", header_.total_bytes());
  } else {
    payload_.append(c.data());
    return;
  }
  std::string().swap(payload_);
}

// A read that fails after the header means the client half-closed, or the
// call was cancelled (the client cancelled, its deadline passed, the
// connection broke). The context may not know of a cancellation yet when the
// read fails, so the stream is confirmed open first: sending the initial
// metadata fails on a cancelled call and succeeds on a half-closed one,
// whose client still waits for the answer.
void PushUpdateReactor::OnStreamEnd() {
  if (context_->IsCancelled()) return FinishCancelled();
  StartSendInitialMetadata();
}

void PushUpdateReactor::OnSendInitialMetadataDone(bool ok) {
  if (!ok || context_->IsCancelled()) return FinishCancelled();
  Submit();
}

void PushUpdateReactor::FinishCancelled() {
  outcomes_->RecordCancelled();
  log::Info("push cancelled before it completed; nothing submitted",
            {{"client", header_.client_id()}, {"received_bytes", payload_.size()}});
  Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                      "the push was cancelled before the client completed it; nothing was submitted"));
}

void PushUpdateReactor::Reject(RejectReason reason, std::string message) {
  outcomes_->Record(reason);
  log::Info("update rejected", {{"client", header_.client_id()}, {"reason", message}});
  response_->set_accepted(false);
  response_->set_reject_reason(static_cast<v1::RejectReason>(static_cast<int>(reason)));
  response_->set_message(std::move(message));
  Finish(grpc::Status::OK);
}

void PushUpdateReactor::Submit() {
  if (problem_.empty() && payload_.size() != header_.total_bytes()) {
    problem_ = fmt::format("stream ended after {} of {} bytes", payload_.size(),
                           header_.total_bytes());
  }
  if (problem_.empty() && header_.checksum().kind() != v1::CHECKSUM_XXH3_64) {
    problem_ = "the update header carries no XXH3-64 checksum";
  }
  if (problem_.empty() && header_.checksum().value() == 0) {
    problem_ = "the update header's XXH3-64 checksum is 0";
  }
  if (!problem_.empty()) return Reject(RejectReason::kMalformed, problem_);
  UpdateMeta meta;
  meta.client_id = header_.client_id();
  meta.token = header_.session_token();
  meta.base_version = header_.base_version();
  meta.local_steps = header_.local_steps();
  meta.num_samples = header_.num_samples();
  meta.mean_loss = header_.mean_loss();
  // Verified against the payload on the engine's validation pool, not here
  // (a reactor thread).
  meta.payload_checksum = header_.checksum().value();
  const uint64_t client = header_.client_id();
  engine_->SubmitUpdateAsync(meta, std::move(payload_), [this, client](const UpdateOutcome& o) {
    outcomes_->Record(o.accepted ? RejectReason::kNone : o.reason);
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
