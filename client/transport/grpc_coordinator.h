// GrpcCoordinator: api::CoordinatorApi over murmur.v1.Coordinator gRPC, a
// client runtime's connection to a remote coordinator. It maps the domain
// types to protobuf and back exactly as server/service maps them on the
// other side, so it answers every call as server::InProcessCoordinator does
// (tests/api_conformance_test.cc): rejections carry the service's reason and
// message, a busy coordinator is UNAVAILABLE, gRPC status codes become the
// Status codes of the same number.
//
// PullModel receives a version as a chunk stream, resumes from the last byte
// received when a stream breaks (up to max_pull_attempts streams, for
// UNAVAILABLE / DATA_LOSS / DEADLINE_EXCEEDED), and verifies the
// whole-payload XXH3-64 checksum. PushUpdate sends a header plus chunks.
//
// Threading: one GrpcCoordinator per client session (not synchronized: one
// call at a time); many may share one grpc::Channel from different threads.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "common/api/coordinator_api.h"
#include "common/status.h"
#include "murmur/v1/coordinator.grpc.pb.h"

namespace murmur::client {

struct GrpcCoordinatorOptions {
  uint32_t chunk_bytes = 1 << 20;
  int max_pull_attempts = 4;  // streams per PullModel (resumptions of a broken download + 1)
  double rpc_timeout_s = 60;  // per call; past it the call is DEADLINE_EXCEEDED
};

class GrpcCoordinator final : public api::CoordinatorApi {
 public:
  explicit GrpcCoordinator(std::shared_ptr<grpc::Channel> channel,
                           GrpcCoordinatorOptions options = {});

  Result<api::Registration> Register(const std::string& client_name,
                                     const api::ClientCapabilities& capabilities,
                                     const std::string& enrollment_secret) override;
  Result<api::CheckInDecision> CheckIn(uint32_t intended_local_steps,
                                       uint64_t have_version) override;
  Result<api::PulledModel> PullModel(uint64_t version) override;
  Result<api::UpdateOutcome> PushUpdate(const api::UpdateToPush& update) override;
  Status Leave(const std::string& reason) override;
  uint64_t client_id() const override { return client_id_; }

 private:
  Status CheckRegistered() const;
  void SetDeadline(grpc::ClientContext* context) const;

  std::unique_ptr<v1::Coordinator::Stub> stub_;
  GrpcCoordinatorOptions options_;
  uint64_t client_id_ = 0;
  std::string token_;
};

// grpc::Status -> murmur::Status (same numbering, same message).
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace murmur::client
