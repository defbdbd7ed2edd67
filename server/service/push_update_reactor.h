// PushUpdateReactor: one PushUpdate call (murmur.v1.Coordinator) on gRPC's
// callback API. It reassembles the pushed update from its header and chunks
// (checking offsets, the announced size, the size limit and the checksum
// before the engine sees a byte), hands it to RoundEngine::SubmitUpdateAsync
// and finishes the call from the engine's callback, once the outcome is
// durable. No gRPC thread ever waits for aggregation or SQLite.
//
// Answers: accepted or rejected with a reason in PushUpdateResponse; a full
// engine queue (kBusy) is gRPC UNAVAILABLE ("busy, retry"), which clients
// treat as transient; a stream without a header is INVALID_ARGUMENT.
//
// Threading: gRPC serializes the reactions of one call; the engine's
// callback (on the engine's worker thread, or inline) calls Finish, which is
// thread-safe. The reactor deletes itself in OnDone.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <string>

#include "murmur/v1/coordinator.pb.h"
#include "server/engine/round_engine.h"

namespace murmur::server {

class PushUpdateReactor final : public grpc::ServerReadReactor<v1::PushUpdateMessage> {
 public:
  PushUpdateReactor(RoundEngine* engine, v1::PushUpdateResponse* response);

  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void OnChunk(const v1::Chunk& c);
  void Submit();
  void Reject(RejectReason reason, std::string message);

  RoundEngine* engine_;
  v1::PushUpdateResponse* response_;
  v1::PushUpdateMessage msg_;
  v1::UpdateHeader header_;
  bool have_header_ = false;
  bool too_large_ = false;
  std::string payload_;
  std::string problem_;
};

}  // namespace murmur::server
