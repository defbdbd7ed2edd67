// RoundEngine: the coordinator's core state machine, with no networking.
//
// It registers clients, answers check-ins (train now with K steps, wait, or
// finished), publishes encoded global model versions, validates incoming
// updates, closes rounds (engine_config.h: buffer_full, deadline,
// all_reported) and aggregates each round with the configured Strategy,
// passing every registered client id and the persisted StrategyState. With a
// Store it records every participation attempt (accepted with its weight, or
// rejected with the precise reason), every round, the strategy state and a
// model checkpoint, and resumes exactly where the last commit left off.
//
// Validation before anything touches the model: known client and token,
// an outstanding check-in, K in range, payload decodes against the model's
// names and shapes, finite values, norm bound, staleness (current - base) <=
// tau_max, not a duplicate. Every rejection has a reason and a message and is
// recorded in the history.
//
// Durability guarantee (with a Store):
//   - An update is acknowledged as accepted only after the transaction that
//     records it (its participation row AND its payload, in buffered_updates)
//     has committed. A crash never loses an accepted update: a restart puts
//     it back in the open round's buffer, in its original order.
//   - An accepted update is counted exactly once: it lands in exactly one
//     round; the round's commit (round row, the weights of its participants,
//     strategy state, checkpoint row, removal of the buffered payloads) is
//     ONE transaction, after the checkpoint file is fsynced. A retransmitted
//     identical update (same client, base version and payload checksum) is
//     rejected as a duplicate, also across restarts.
//   - Nothing is half-applied: after a crash the engine resumes from the
//     last committed round with the same model (bit-for-bit), strategy state,
//     buffer and history. Updates whose acknowledgement was not sent may or
//     may not have been recorded; the client retries and dedup decides.
//   - Fail-stop: if the store or the aggregation fails, the engine stops
//     changing state and answers kInternal / UNAVAILABLE with the reason;
//     what was committed stays valid and a restart resumes from it.
// Without a Store everything lives in memory and is lost at exit.
//
// Threading: every public method is safe to call from many threads. Front
// methods (Register, CheckIn, Snapshot, SubmitUpdate*, Leave) hold one
// mutex briefly and never wait for aggregation or SQLite: the engine owns a
// worker thread that takes validated items from a bounded queue, writes the
// store and aggregates. SubmitUpdateAsync returns at once; its callback runs
// on the worker thread after the outcome is durable (or inline, for an
// immediate rejection): callbacks must be quick and must not call back into
// the engine's blocking methods (SubmitUpdate, Flush). When the queue is full
// the answer is kBusy ("busy, retry after ..."): nothing is recorded and the
// check-in stays open, so the client can resend the same update.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/rng.h"
#include "common/status.h"
#include "server/engine_config.h"
#include "server/engine_types.h"
#include "server/store/store.h"
#include "server/strategy/strategy.h"

namespace murmur::server {

class RoundEngine {
 public:
  using UpdateCallback = std::function<void(const UpdateOutcome&)>;

  // Validates the config and builds the strategy. With a `store`: resumes
  // its last committed state (the spec of `initial_model` must match the
  // stored model; the strategy name must match the stored state), or, for an
  // empty store, records `initial_model` as version 1. `clock`, `rng` and
  // `store` must outlive the engine.
  static Result<std::unique_ptr<RoundEngine>> Create(EngineConfig config, TensorList initial_model,
                                                     Clock* clock, Rng* rng,
                                                     store::Store* store = nullptr);
  // Processes everything already queued (every callback runs), then stops.
  ~RoundEngine();
  RoundEngine(const RoundEngine&) = delete;
  RoundEngine& operator=(const RoundEngine&) = delete;

  Result<Registration> Register(const std::string& client_name, const ClientCapabilities& caps);
  Result<CheckInDecision> CheckIn(uint64_t client_id, const std::string& token,
                                  uint32_t intended_local_steps);
  // Current version when `version` is 0; NotFound for a version no longer kept.
  Result<SnapshotPtr> Snapshot(uint64_t version) const;
  // Non-blocking; see the threading note above. `done` runs exactly once.
  void SubmitUpdateAsync(const UpdateMeta& meta, std::string payload, UpdateCallback done);
  // Blocks until the outcome is final (durable when accepted). For tests,
  // the simulator and synchronous transports.
  UpdateOutcome SubmitUpdate(const UpdateMeta& meta, std::string_view payload);
  Status Leave(uint64_t client_id, const std::string& token);
  // Evaluation metrics of a published version, recorded with its round.
  void RecordMetrics(uint64_t version, std::map<std::string, double> metrics);

  // Waits until everything queued before the call is processed and
  // committed and the time triggers have been checked against the Clock
  // (advance a ManualClock, then Flush). Returns the engine's health.
  Status Flush();

  // Called on the worker thread after each round is committed and published,
  // before the updates that closed it are acknowledged. Keep it quick: the
  // worker does nothing else meanwhile. It may call RecordMetrics, Stats,
  // GlobalModel, version; not Flush or SubmitUpdate.
  void SetRoundObserver(std::function<void(const RoundSummary&)> observer);

  const EngineConfig& config() const { return config_; }
  const ModelSpec& model_spec() const { return spec_; }
  uint64_t version() const;
  bool finished() const;
  TensorList GlobalModel() const;  // a copy of the current published model
  std::shared_ptr<const TensorList> GlobalModelPtr() const;
  EngineStats Stats() const;
  // OK, or why the engine stopped (fail-stop).
  Status health() const;

 private:
  struct ClientState {
    std::string name;
    std::string token_sha256;  // TokenDigest of the session token
    ClientCapabilities caps;
    double registered_at_s = 0;
    uint64_t registered_version = 0;
    bool training = false;  // checked in, update not yet received
    bool grace = false;     // resumed after a restart: one update without a check-in
    bool left = false;
    bool sent_from_current = false;  // sync mode: sent an update from `sent_base`
    uint64_t sent_base = 0;
  };
  struct QueuedUpdate {
    UpdateMeta meta;  // token cleared
    std::string payload;
    uint64_t checksum = 0;
    size_t reserved_bytes = 0;  // counted in queued_bytes_ until the worker takes it
    TensorList delta;
    double received_at_s = 0;
    UpdateCallback done;
  };
  struct Barrier {
    std::shared_ptr<std::promise<Status>> done;
  };
  struct Metrics {
    uint64_t version = 0;
    std::map<std::string, double> values;
  };
  using Item = std::variant<QueuedUpdate, store::ClientRecord, store::ParticipationRecord,
                            Metrics, Barrier>;

  // A buffered (accepted, not yet aggregated) update: worker-owned.
  struct Pending {
    store::ParticipationRecord record;
    TensorList delta;
  };

  RoundEngine(EngineConfig config, ModelSpec spec, Clock* clock, Rng* rng, store::Store* store,
              std::unique_ptr<strategy::Strategy> strategy);
  Status Start(TensorList initial_model);
  Status Resume(store::RecoveredState rec);

  // ---- front (callers hold mu_ where noted) ----
  Status AuthenticateLocked(uint64_t client_id, const std::string& token) const;
  store::ClientRecord ClientRecordLocked(uint64_t id, const ClientState& c) const;
  void EnqueueLocked(Item item);
  void RejectNow(const UpdateMeta& meta, double received_at_s, RejectReason reason,
                 std::string message, uint64_t staleness, const UpdateCallback& done,
                 bool record);
  std::string NewToken();

  // ---- worker thread ----
  void WorkerLoop();
  void Process(Item& item);
  void ProcessUpdate(QueuedUpdate& u);
  void MaybeCloseOnCount();
  void MaybeCloseOnDeadline();
  void CloseRound(RoundTrigger trigger);
  // Writes the pending batch (with its round, if any) in one store
  // transaction; false (and fail-stop) when the store refuses it.
  bool WriteBatch();
  // Runs the callbacks of everything written so far and updates counters.
  void FireCallbacks();
  void Fail(const Status& why);
  void Publish(std::shared_ptr<const TensorList> model, uint64_t version);
  double DeadlineWaitSeconds() const;

  const EngineConfig config_;
  const ModelSpec spec_;
  Clock* const clock_;
  Rng* const rng_;
  store::Store* const store_;
  const std::unique_ptr<strategy::Strategy> strategy_;
  const bool one_update_per_client_;
  double started_at_s_ = 0;

  // ---- front state, guarded by mu_ ----
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unordered_map<uint64_t, ClientState> clients_;
  std::unordered_map<std::string, uint64_t> ids_by_name_;
  uint64_t next_client_id_ = 1;
  uint32_t active_trainers_ = 0;
  uint64_t version_ = 1;
  std::shared_ptr<const TensorList> model_;
  SnapshotPtr current_;
  SnapshotPtr previous_;  // kept so a client mid-download can finish
  bool finished_ = false;
  Status health_;
  std::deque<Item> queue_;
  size_t queued_updates_ = 0;
  size_t queued_bytes_ = 0;
  size_t queued_records_ = 0;
  uint64_t dropped_records_ = 0;
  uint64_t buffered_ = 0;
  uint64_t accepted_total_ = 0;
  uint64_t rejected_total_ = 0;
  bool stopping_ = false;
  std::function<void(const RoundSummary&)> observer_;

  // ---- worker state: touched only by the worker thread (and by Create
  // before the thread starts) ----
  TensorList w_model_;
  strategy::StrategyState w_state_;
  uint64_t w_version_ = 1;
  std::vector<Pending> w_buffer_;
  std::set<uint64_t> w_members_;  // registered, not left
  uint64_t w_next_participation_id_ = 1;
  double w_opened_at_s_ = 0;
  // (client, base, payload checksum) -> round, for accepted updates whose
  // base can still be accepted (exactly-once across retransmissions).
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, uint64_t> w_accepted_keys_;
  store::WriteBatch w_batch_;
  std::vector<std::pair<UpdateCallback, UpdateOutcome>> w_callbacks_;
  std::vector<std::shared_ptr<std::promise<Status>>> w_barriers_;
  uint64_t w_accepted_in_batch_ = 0;
  uint64_t w_rejected_in_batch_ = 0;
  Status w_failed_;

  std::thread worker_;
};

}  // namespace murmur::server
