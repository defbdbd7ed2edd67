// CoordinatorService: murmur.v1.Coordinator over gRPC, in front of a
// RoundEngine. It translates messages and streams model versions in chunks
// (resumable from an offset, whole-payload checksum in every chunk).
// PushUpdate runs on gRPC's callback API (PushUpdateReactor): the call is
// answered when the engine's worker has durably recorded the outcome, and
// no gRPC thread waits for it. The other methods are synchronous handlers
// that only take the engine's front mutex briefly.
//
// Threading: gRPC calls these handlers from its own threads; the service
// holds no mutable state and the engine is thread-safe. The engine must
// outlive the grpc::Server (Shutdown waits for pending PushUpdate calls,
// which the engine's worker completes).
#pragma once

#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/engine/round_engine.h"

namespace murmur::server {

struct ServiceOptions {
  uint32_t default_chunk_bytes = 1 << 20;
  uint32_t max_chunk_bytes = 4 << 20;
};

class CoordinatorService final
    : public v1::Coordinator::WithCallbackMethod_PushUpdate<v1::Coordinator::Service> {
 public:
  CoordinatorService(RoundEngine* engine, ServiceOptions options = {});

  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                       v1::CheckInResponse* response) override;
  grpc::Status PullModel(grpc::ServerContext* context, const v1::PullModelRequest* request,
                         grpc::ServerWriter<v1::ModelChunk>* writer) override;
  grpc::ServerReadReactor<v1::PushUpdateMessage>* PushUpdate(
      grpc::CallbackServerContext* context, v1::PushUpdateResponse* response) override;
  grpc::Status Leave(grpc::ServerContext*, const v1::LeaveRequest* request,
                     v1::LeaveResponse* response) override;

 private:
  RoundEngine* engine_;
  ServiceOptions options_;
};

}  // namespace murmur::server
