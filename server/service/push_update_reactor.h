// PushUpdateReactor: one PushUpdate call (murmur.v1.Coordinator) on gRPC's
// callback API. In order:
//   1. The header (the first message) is checked before any chunk is read:
//      the session (RoundEngine::Authenticate), then the announced size
//      against the engine's max_update_bytes. A failure is answered at once
//      (accepted = false, with the engine's reason: unknown_client,
//      bad_token, too_large) and nothing more is read or reserved; an
//      unauthenticated attempt never reaches the engine or its history.
//   2. The announced size and one stream slot are reserved from the
//      service's InflightBudget; when they do not fit the call ends with
//      UNAVAILABLE ("busy, retry"), before a chunk is read. The reservation
//      is held until the call ends, however it ends.
//   3. Chunks are reassembled (offsets, announced size, then the checksum).
//   4. Only a stream the client completed (half-closed, not cancelled) is
//      handed to RoundEngine::SubmitUpdateAsync; the call is finished from
//      the engine's callback once the outcome is durable. A cancelled call
//      submits nothing and ends CANCELLED.
// A full engine queue (kBusy) is also UNAVAILABLE; a stream without a header
// is INVALID_ARGUMENT. No gRPC thread ever waits for aggregation or SQLite.
//
// Threading: gRPC serializes the reactions of one call; the engine's
// callback (on the engine's worker thread, or inline) calls Finish, which is
// thread-safe. The reactor deletes itself in OnDone, which returns its
// budget reservation.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <string>

#include "murmur/v1/coordinator.pb.h"
#include "server/engine/round_engine.h"
#include "server/service/inflight_budget.h"
#include "server/service/push_outcomes.h"

namespace murmur::server {

class PushUpdateReactor final : public grpc::ServerReadReactor<v1::PushUpdateMessage> {
 public:
  // `engine`, `budget` and `outcomes` must outlive the call. Every way the
  // call ends is counted in `outcomes`.
  PushUpdateReactor(RoundEngine* engine, InflightBudget* budget, PushOutcomes* outcomes,
                    grpc::CallbackServerContext* context, v1::PushUpdateResponse* response);

  void OnReadDone(bool ok) override;
  void OnSendInitialMetadataDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  // Admits the stream on its header, or finishes the call.
  void OnHeader();
  void OnChunk(const v1::Chunk& c);
  // The client stopped sending: half-closed, or cancelled.
  void OnStreamEnd();
  void FinishCancelled();
  void Submit();
  void Reject(RejectReason reason, std::string message);

  RoundEngine* const engine_;
  InflightBudget* const budget_;
  PushOutcomes* const outcomes_;
  grpc::CallbackServerContext* const context_;
  v1::PushUpdateResponse* const response_;
  v1::PushUpdateMessage msg_;
  v1::UpdateHeader header_;
  bool have_header_ = false;
  InflightBudget::Lease lease_;
  std::string payload_;
  std::string problem_;
};

}  // namespace murmur::server
