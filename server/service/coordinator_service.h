// CoordinatorService: murmur.v1.Coordinator over gRPC, in front of a
// RoundEngine. Every method runs on gRPC's callback API and never blocks a
// gRPC thread:
//   Register, CheckIn, Leave  unary reactors; the engine's front methods
//                             only take its mutex briefly.
//   PullModel                 PullModelReactor: authenticates the session,
//                             then writes one chunk at a time (resumable
//                             from an offset, whole-payload checksum in
//                             every chunk); a stalled reader holds a reactor,
//                             not a thread.
//   PushUpdate                PushUpdateReactor: authenticates and
//                             size-checks the header before reading a chunk,
//                             reserves from the shared in-flight budget,
//                             submits only a stream the client completed.
//
// Threading: gRPC calls these methods from its own threads; the service's
// only mutable state is the push budget and outcome counters (thread-safe); the engine is
// thread-safe. The engine must outlive the grpc::Server (Shutdown waits for
// pending PushUpdate calls, which the engine's worker completes), and the
// service must too.
#pragma once

#include <cstdint>

#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/engine/round_engine.h"
#include "server/service/inflight_budget.h"
#include "server/service/push_outcomes.h"

namespace murmur::server {

// Served chunks stay this far below gRPC's default 4 MiB receive limit,
// leaving room for the ModelChunk's other fields and the message framing.
inline constexpr uint32_t kMaxWireChunkBytes = (4u << 20) - (64u << 10);

struct ServiceOptions {
  // PullModel chunk size when the request leaves it 0.
  uint32_t default_chunk_bytes = 1 << 20;
  // Largest chunk served, whatever a request asks for; clamped to
  // kMaxWireChunkBytes so that a client with gRPC's default limits can read it.
  uint32_t max_chunk_bytes = kMaxWireChunkBytes;
  // Payload bytes all PushUpdate calls may hold at once (each reserves its
  // announced size after its header is accepted, until the call ends).
  uint64_t max_inflight_bytes = uint64_t{1} << 30;
  // PushUpdate calls that may hold a reservation at once.
  uint32_t max_inflight_pushes = 64;
};

class CoordinatorService final : public v1::Coordinator::CallbackService {
 public:
  CoordinatorService(RoundEngine* engine, ServiceOptions options = {});

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const v1::CheckInRequest* request,
                                    v1::CheckInResponse* response) override;
  grpc::ServerWriteReactor<v1::ModelChunk>* PullModel(
      grpc::CallbackServerContext* context, const v1::PullModelRequest* request) override;
  grpc::ServerReadReactor<v1::PushUpdateMessage>* PushUpdate(
      grpc::CallbackServerContext* context, v1::PushUpdateResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context,
                                  const v1::LeaveRequest* request,
                                  v1::LeaveResponse* response) override;

  const ServiceOptions& options() const { return options_; }
  // What open pushes hold now (for tests and metrics).
  const InflightBudget& push_budget() const { return push_budget_; }
  // How PushUpdate calls ended since start (for metrics).
  const PushOutcomes& push_outcomes() const { return push_outcomes_; }

 private:
  RoundEngine* engine_;
  ServiceOptions options_;
  InflightBudget push_budget_;
  PushOutcomes push_outcomes_;
};

}  // namespace murmur::server
