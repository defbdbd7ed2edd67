// InProcessCoordinator: api::CoordinatorApi over a RoundEngine in the same
// process, with no network. The simulator and the in-process demo drive the
// production engine through it, so they exercise the same code path as a
// client over gRPC: it answers every call exactly as CoordinatorService
// plus client::GrpcCoordinator do (tests/api_conformance_test.cc), copying
// only the fields the wire carries.
//
// Threading: one object per client session, not synchronized (call it from
// one thread at a time); many sessions may share one engine from different
// threads. PushUpdate blocks until the engine's outcome is final. The engine
// must outlive the object.
#pragma once

#include <cstdint>
#include <string>

#include "common/api/coordinator_api.h"
#include "server/engine/round_engine.h"

namespace murmur::server {

class InProcessCoordinator final : public api::CoordinatorApi {
 public:
  explicit InProcessCoordinator(RoundEngine* engine);

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

  RoundEngine* const engine_;
  uint64_t client_id_ = 0;
  std::string token_;
};

}  // namespace murmur::server
