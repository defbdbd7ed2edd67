// CoordinatorClient: a client runtime's connection to the coordinator
// (murmur.v1.Coordinator). Pulls model versions as chunk streams, resuming
// from the last byte received when a stream breaks, and verifies the
// whole-payload checksum; pushes updates as a header plus chunks.
//
// Threading: one CoordinatorClient per client (not synchronized); many
// may share one grpc::Channel.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "murmur/v1/coordinator.grpc.pb.h"

namespace murmur::client {

struct ClientOptions {
  uint32_t chunk_bytes = 1 << 20;
  int max_pull_attempts = 4;   // resumptions of a broken model download
  double rpc_timeout_s = 60;
};

struct PulledModel {
  uint64_t version = 0;
  v1::Encoding encoding = v1::ENCODING_UNSPECIFIED;
  std::string bytes;
};

struct UpdateToPush {
  uint64_t base_version = 0;
  uint32_t local_steps = 0;
  uint64_t num_samples = 0;
  double mean_loss = 0;
  double train_seconds = 0;
  bool step_normalized = false;
  v1::Encoding encoding = v1::ENCODING_FP32;
  std::string payload;  // codec bytes
};

class CoordinatorClient {
 public:
  CoordinatorClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options = {});

  // Stores the id and token for the calls below.
  Result<v1::RegisterResponse> Register(const std::string& client_name,
                                        const v1::Capabilities& capabilities);
  Result<v1::CheckInResponse> CheckIn(uint32_t intended_local_steps, uint64_t have_version);
  Result<PulledModel> PullModel(uint64_t version);
  Result<v1::PushUpdateResponse> PushUpdate(const UpdateToPush& update);
  Status Leave(const std::string& reason);

  uint64_t client_id() const { return client_id_; }

 private:
  void SetDeadline(grpc::ClientContext* context) const;

  std::unique_ptr<v1::Coordinator::Stub> stub_;
  ClientOptions options_;
  uint64_t client_id_ = 0;
  std::string token_;
};

// grpc::Status -> murmur::Status (same numbering).
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace murmur::client
