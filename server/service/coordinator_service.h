// CoordinatorService: murmur.v1.Coordinator over gRPC, in front of a
// RoundEngine. It translates messages, streams model versions in chunks
// (resumable from an offset, whole-payload checksum in every chunk) and
// reassembles pushed updates, checking offsets, size limit and checksum
// before the engine sees a byte.
//
// Threading: gRPC's synchronous server calls these handlers from its own
// thread pool; the service holds no mutable state and the engine is
// thread-safe.
#pragma once

#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/round_engine.h"

namespace murmur::server {

struct ServiceOptions {
  uint32_t default_chunk_bytes = 1 << 20;
  uint32_t max_chunk_bytes = 4 << 20;
};

class CoordinatorService final : public murmur::v1::Coordinator::Service {
 public:
  CoordinatorService(RoundEngine* engine, ServiceOptions options = {});

  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                       v1::CheckInResponse* response) override;
  grpc::Status PullModel(grpc::ServerContext* context, const v1::PullModelRequest* request,
                         grpc::ServerWriter<v1::ModelChunk>* writer) override;
  grpc::Status PushUpdate(grpc::ServerContext* context,
                          grpc::ServerReader<v1::PushUpdateMessage>* reader,
                          v1::PushUpdateResponse* response) override;
  grpc::Status Leave(grpc::ServerContext*, const v1::LeaveRequest* request,
                     v1::LeaveResponse* response) override;

 private:
  RoundEngine* engine_;
  ServiceOptions options_;
};

}  // namespace murmur::server
