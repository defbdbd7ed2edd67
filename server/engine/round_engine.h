// RoundEngine: the coordinator's engine, with no networking: the threaded
// shell around RoundCore (server/core/round_core.h), which holds every rule.
// The shell adds a bounded queue, payload validation (checksum, decode,
// finiteness, norm) on a small pool of its own threads (validation_pool.h:
// never on the caller's thread, which may be a gRPC reactor), a worker thread that aggregates and writes the store, and a deadline timer
// on the injected Clock (a deadline is an event, not a poll).
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
// recorded in the history, except unauthenticated attempts (unknown id, bad
// token), which are counted and logged but belong to no client's history.
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
//     answered accepted with its round and not applied again, also across
//     restarts and whatever its age (AcceptedKeyHorizon versions back).
//   - Nothing is half-applied: after a crash the engine resumes from the
//     last committed round with the same model (bit-for-bit), strategy state,
//     buffer and history. Updates whose acknowledgement was not sent may or
//     may not have been recorded; the client retries and dedup decides.
//   - A failed store write is retried with backoff for store_retry_s (the
//     worker waits; the front keeps answering).
//   - Fail-stop: if the store still fails after that (or at once, with an
//     error that cannot pass), or the aggregation fails, the engine stops
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
// the answer is kBusy ("busy, retry after ..."): the attempt is recorded, the
// check-in stays open, so the client can resend the same update.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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
#include "server/core/round_core.h"
#include "server/engine_config.h"
#include "server/engine/validation_pool.h"
#include "server/engine_types.h"
#include "server/store/store.h"
#include "server/strategy/strategy.h"
#include "server/update_validation.h"

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

  // `credential` (client_credential.h) binds the name on its first
  // registration; later ones must present the same one (RoundCore::Register:
  // PERMISSION_DENIED otherwise, and the bound client's session stays valid).
  // A client whose stated encodings lack the job's update encoding is
  // refused (FAILED_PRECONDITION). The answer carries the model's spec.
  Result<Registration> Register(const std::string& client_name, const ClientCapabilities& caps,
                                const std::string& credential = "");
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
  // The session check every method does, on its own: for a transport that
  // must authenticate before it accepts bytes (a pull, a push's header).
  Status Authenticate(uint64_t client_id, const std::string& token) const;
  // Evaluation metrics of a published version, recorded with its round.
  void RecordMetrics(uint64_t version, std::map<std::string, double> metrics);

  // Waits until everything queued before the call is processed and
  // committed and the deadline has been checked against the Clock (advance
  // a ManualClock, then Flush). Returns the engine's health.
  Status Flush();

  // Called on the worker thread after each round is committed and published,
  // before the updates that closed it are acknowledged. Keep it quick: the
  // worker does nothing else meanwhile. It may call RecordMetrics, Stats,
  // GlobalModel, version; not Flush or SubmitUpdate.
  void SetRoundObserver(std::function<void(const RoundSummary&)> observer);

  const EngineConfig& config() const;
  const ModelSpec& model_spec() const;
  // The recipe handed out with every kTrain: config().recipe with the
  // model's ModelSpecHash filled in.
  TrainingRecipe recipe() const;
  uint64_t version() const;
  bool finished() const;
  TensorList GlobalModel() const;  // a copy of the current published model
  std::shared_ptr<const TensorList> GlobalModelPtr() const;
  EngineStats Stats() const;
  // OK, or why the engine stopped (fail-stop).
  Status health() const;

 private:
  struct QueuedUpdate {
    core::ValidatedUpdate update;
    size_t reserved_bytes = 0;  // counted in queued_bytes_ until the worker takes it
  };
  struct Barrier {
    std::shared_ptr<std::promise<Status>> done;
  };
  // An admitted update on its way through the validation pool.
  struct Validation {
    UpdateMeta meta;
    std::string payload;
    uint64_t checksum = 0;
    bool declared = false;  // checksum came from the sender: verify it
    size_t reserved_bytes = 0;
    double now_s = 0;
    UpdateCallback done;
  };
  using Item = std::variant<QueuedUpdate, Barrier>;

  RoundEngine(Clock* clock, Rng* rng, store::Store* store, std::unique_ptr<core::RoundCore> core);
  void Start();

  // ---- front (callers hold mu_ where noted) ----
  void WakeWorkerLocked();
  // On the validation pool: checksum, decode, finiteness, norm; then Finish.
  void Validate(Validation& v);
  // Tells the core the check's result; queues the update or answers `done`.
  void Finish(Validation& v, PayloadCheck check);
  std::string NewTokenLocked();

  // ---- worker thread ----
  void WorkerLoop();
  // Aggregates, writes and publishes every round the core says is due.
  void CloseDueRounds();
  // Writes what the core has pending (group commit) and acknowledges it.
  void WritePending();
  // Makes `write` durable, tells the core, publishes, runs the callbacks.
  // `close_started`: when the round in it (if any) began closing.
  void Commit(core::PendingWrite write, SnapshotPtr snapshot,
              std::optional<std::chrono::steady_clock::time_point> close_started);
  // store_->Write, retried with backoff on transient errors for store_retry_s.
  Status WriteWithRetry(const store::WriteBatch& batch);
  void ScheduleDeadline();
  SnapshotPtr Encode(const TensorList& model, uint64_t version) const;

  Clock* const clock_;
  Rng* const rng_;
  store::Store* const store_;
  double started_at_s_ = 0;
  size_t decoded_bytes_ = 0;  // fp32 bytes of one decoded update (counted in queued_bytes_)

  // ---- guarded by mu_ ----
  mutable std::mutex mu_;
  std::condition_variable wake_;
  const std::unique_ptr<core::RoundCore> core_;
  SnapshotPtr current_;
  SnapshotPtr previous_;  // kept so a client mid-download can finish
  std::deque<Item> queue_;
  bool wake_pending_ = false;  // the core has something to write or a deadline passed
  size_t queued_updates_ = 0;
  size_t queued_bytes_ = 0;
  core::Ticket next_ticket_ = 1;
  std::unordered_map<core::Ticket, UpdateCallback> waiting_;
  bool stopping_ = false;
  std::function<void(const RoundSummary&)> observer_;

  // ---- worker thread only ----
  TimerId deadline_timer_ = 0;
  double deadline_at_s_ = -1;

  std::thread worker_;
  const std::unique_ptr<ValidationPool> validation_pool_;
};

}  // namespace murmur::server
