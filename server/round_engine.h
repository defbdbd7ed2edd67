// RoundEngine: the coordinator's core state machine, with no networking.
//
// It registers clients, answers check-ins (train now with K steps, wait, or
// finished), publishes encoded global model versions, validates incoming
// updates and closes a round when `updates_per_round` (m) accepted updates
// are buffered, applying FedAvg over the participants' deltas:
//     x_{t+1} = x_t + eta * mean_i(delta_i).
// Clients are anarchic: they come when they choose and say how many local
// steps they intend; the engine only clamps K and may say "wait" (cap on
// concurrent trainers).
//
// Validation before anything touches the model: known client and token,
// staleness (current - base) <= max_staleness, K in range, payload decodes
// against the model's names and shapes, finite values, norm bound. Every
// rejection has a reason and a message.
//
// Threading: all public methods are safe to call from many threads (one
// mutex; decoding runs outside it). In this first cut the thread delivering
// the m-th update performs the aggregation.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/rng.h"
#include "common/status.h"
#include "server/engine_types.h"

namespace murmur::server {

struct EngineConfig {
  uint32_t updates_per_round = 4;        // m
  double server_lr = 1.0;                // eta
  uint64_t max_staleness = 4;            // tau_max
  uint64_t max_rounds = 0;               // finish after this many rounds (0: never)
  uint32_t max_concurrent_trainers = 0;  // 0: no cap
  double wait_retry_s = 1.0;             // hint sent with "wait"
  double max_update_norm = 1e6;          // per-update L2 bound
  size_t max_update_bytes = size_t{1} << 30;
  Encoding model_encoding = Encoding::kFp32;
  TrainingRecipe recipe;
};

class RoundEngine {
 public:
  // `clock` and `rng` must outlive the engine.
  RoundEngine(EngineConfig config, TensorList initial_model, Clock* clock, Rng* rng);

  Result<Registration> Register(const std::string& client_name, const ClientCapabilities& caps);
  Result<CheckInDecision> CheckIn(uint64_t client_id, const std::string& token,
                                  uint32_t intended_local_steps);
  // Current version when `version` is 0; NotFound for a version no longer kept.
  Result<SnapshotPtr> Snapshot(uint64_t version) const;
  UpdateOutcome SubmitUpdate(const UpdateMeta& meta, std::string_view payload);
  Status Leave(uint64_t client_id, const std::string& token);

  // Called (on the aggregating thread, outside the lock) after each round.
  void SetRoundObserver(std::function<void(const RoundSummary&)> observer);

  const EngineConfig& config() const { return config_; }
  const ModelSpec& model_spec() const { return spec_; }
  uint64_t version() const;
  bool finished() const;
  // A copy of the current global model.
  TensorList GlobalModel() const;

 private:
  struct ClientState {
    std::string name;
    std::string token;
    ClientCapabilities caps;
    bool training = false;  // checked in, update not yet received
    bool left = false;
    uint64_t accepted = 0;
    uint64_t rejected = 0;
  };
  struct Pending {
    uint64_t client_id;
    TensorList delta;
    double loss;
  };

  Status Authenticate(uint64_t client_id, const std::string& token) const;  // needs mu_
  void PublishLocked();
  UpdateOutcome Reject(RejectReason reason, std::string message, uint64_t staleness = 0);

  const EngineConfig config_;
  ModelSpec spec_;
  Clock* clock_;
  Rng* rng_;

  mutable std::mutex mu_;
  TensorList global_;
  uint64_t version_ = 1;
  SnapshotPtr current_;
  SnapshotPtr previous_;  // kept so a client mid-download can finish
  std::unordered_map<uint64_t, ClientState> clients_;
  std::unordered_map<std::string, uint64_t> ids_by_name_;
  uint64_t next_client_id_ = 1;
  uint32_t active_trainers_ = 0;
  std::vector<Pending> buffer_;
  uint64_t rounds_closed_ = 0;
  std::function<void(const RoundSummary&)> observer_;
};

}  // namespace murmur::server
