// RoundCore: the coordinator's state machine, deterministic and single-
// threaded, with no threads, no clock and no I/O of its own.
//
// It takes inputs — a registration, a check-in, a leave, an update's
// admission, an update whose payload was validated, "the time is now t" —
// and produces effects the caller carries out:
//   - a PendingWrite: the records to write in ONE store transaction
//     (clients, participation attempts, buffered payloads, a closed round
//     with its weights, strategy state and model) and the outcomes to
//     acknowledge once that transaction has committed;
//   - a RoundJob: a round ready to aggregate (the strategy is a pure
//     function; the caller may run it on any thread) whose result comes back
//     through FinishRound;
//   - the next deadline (NextDeadline) at which to call Tick.
// The same inputs, in the same order, with the same times, always give the
// same models (bit for bit), records and outcomes: the production engine
// (round_engine.h) wraps it in a thin threaded shell, and the simulator and
// the tests drive it directly on a virtual clock (server/engine/core_driver.h).
//
// Protocol of one round close:
//   Submit/Tick/Leave ... -> TakeRoundJob() -> job.Run() -> FinishRound(job, step)
//   -> TakePendingWrite() -> (store->Write) -> OnWriteCommitted / OnWriteFailed.
// While a round job is out (taken, its write not yet committed) Submit and
// Tick must not be called; front inputs (Register, CheckIn, Leave, Admit,
// OnPayloadChecked, RecordMetrics) may. Versions change only in
// OnWriteCommitted, so nobody sees a version before it is durable.
//
// Validation of an update happens in two steps around the payload decode:
// Admit (client known, token, an outstanding check-in, K in range, not
// stale, not finished; ends the check-in) and OnPayloadChecked (records a
// payload rejection). Submit then decides the final outcome against the
// current version (staleness, duplicates, one update per client per round).
// Every rejection is recorded in the history, except unauthenticated ones
// (unknown client id or bad token: counted, since whoever sent them has not
// shown it is that client) and calls after a fail-stop. A retry of an
// accepted update (same client, base version and payload checksum) is
// answered accepted with its round, whatever its age, for AcceptedKeyHorizon
// versions.
//
// Fail-stop: a failed write or aggregation stops the core: it changes no
// more state and answers kInternal / UNAVAILABLE with the reason; what was
// committed stays valid and a restart resumes from it.
//
// Threading: none. Not safe for concurrent use; the engine shell holds a
// mutex around every call.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "server/engine_config.h"
#include "server/engine_types.h"
#include "server/store/store_types.h"
#include "server/strategy/strategy.h"
#include "server/update_validation.h"

namespace murmur::server::core {

// Chosen by the caller to match an outcome with whoever waits for it.
using Ticket = uint64_t;

// An update whose payload decoded against the model and passed the checks.
struct ValidatedUpdate {
  UpdateMeta meta;        // token cleared
  TensorList delta;       // the decoded update
  std::string payload;    // the encoded bytes (stored until its round closes; may be empty
                          // when the core keeps no history)
  uint64_t checksum = 0;  // XXH3-64 of the payload
  double received_at_s = 0;
  Ticket ticket = 0;
};

// The update to Submit once its payload passed the checks: the token is
// dropped, and the payload is kept only when there is a history to store it.
ValidatedUpdate MakeValidatedUpdate(const UpdateMeta& meta, std::string payload,
                                    uint64_t checksum, TensorList delta, double received_at_s,
                                    Ticket ticket, bool keep_payload);

struct Ack {
  Ticket ticket = 0;
  UpdateOutcome outcome;
  bool retry = false;  // the answer to a resent accepted update: recorded and counted before
};

// A round ready to aggregate: everything the strategy needs, owned by the job.
struct RoundJob {
  const strategy::Strategy* strategy = nullptr;
  uint64_t round = 0;        // x_t's version t
  uint64_t new_version = 0;  // t + 1
  RoundTrigger trigger = RoundTrigger::kBufferFull;
  double opened_at_s = 0;
  std::shared_ptr<const TensorList> global;
  strategy::StrategyState state;
  std::vector<strategy::ClientUpdate> updates;
  std::vector<uint64_t> all_clients;
  std::unordered_map<uint64_t, double> known_p;  // fedavg_known_p: p_n by client id
  // Runs the strategy (pure; any thread).
  Result<strategy::Step> Run() const;
};

// Records to make durable in one transaction, and what to acknowledge after.
struct PendingWrite {
  store::WriteBatch batch;
  std::vector<Ack> acks;
  bool has_round = false;
  std::optional<RoundSummary> round;  // when has_round: the summary (model set)
  std::shared_ptr<const TensorList> new_model;
  strategy::StrategyState new_state;
  bool empty() const { return batch.empty() && acks.empty() && !has_round; }
};

// What becomes visible once a write committed.
struct Committed {
  std::vector<Ack> acks;
  std::optional<RoundSummary> round;  // a new version was committed
};

// Counters for Admin Status (the shell adds its queue).
struct CoreCounters {
  uint64_t registered_clients = 0;
  uint64_t active_trainers = 0;
  uint64_t buffered_updates = 0;
  uint64_t accepted_updates = 0;
  uint64_t rejected_updates = 0;
  uint64_t dropped_records = 0;
  uint64_t unauthenticated_attempts = 0;  // unknown id or bad token: counted, not recorded
};

class RoundCore {
 public:
  // A fresh job at version 1 with `initial_model`. `record_history`: produce
  // store records (false when nothing is stored: only outcomes and rounds).
  static Result<std::unique_ptr<RoundCore>> Create(EngineConfig config, TensorList initial_model,
                                                   double now_s, bool record_history);
  // Continues the last committed state of a store (`where` names it in errors).
  static Result<std::unique_ptr<RoundCore>> Resume(EngineConfig config, ModelSpec spec,
                                                   store::RecoveredState rec, double now_s,
                                                   const std::string& where);
  RoundCore(const RoundCore&) = delete;
  RoundCore& operator=(const RoundCore&) = delete;

  // ---- front inputs ----
  // `token_sha256`: the digest of the session token the caller hands out.
  // `credential`: what the name is bound to (an enrollment secret, or the
  // mTLS certificate subject); only its SHA-256 is kept. The first
  // registration with a credential binds the name to it; a later one must
  // present the same credential, else PERMISSION_DENIED and nothing changes
  // (the bound client's session stays valid). An empty credential for a name
  // not yet bound is INVALID_ARGUMENT when config().require_credential.
  Result<uint64_t> Register(const std::string& client_name, const ClientCapabilities& caps,
                            const std::string& token_sha256, double now_s,
                            const std::string& credential = "");
  // model_bytes is left 0: the caller knows the encoded size it serves.
  Result<CheckInDecision> CheckIn(uint64_t client_id, const std::string& token,
                                  uint32_t intended_local_steps, double now_s);
  Status Leave(uint64_t client_id, const std::string& token, double now_s);
  // The checks before the payload is decoded. `busy` set (the caller's
  // queue is full; the message says so) makes an otherwise admissible update
  // kBusy: recorded, but the check-in stays open for a resend.
  // Admitted: the check-in is over; the caller decodes the payload and calls
  // OnPayloadChecked. Returns the rejection (accepted == false) or nullopt.
  // `payload_checksum`: XXH3-64 of the payload, so a retry of an update
  // already accepted is answered accepted (with its round) at once.
  std::optional<UpdateOutcome> Admit(const UpdateMeta& meta, uint64_t payload_checksum,
                                     const std::optional<std::string>& busy, double now_s);
  // The payload check's result for an admitted update: a failure is recorded
  // (returned as the outcome); a success marks the client's round in sync mode.
  std::optional<UpdateOutcome> OnPayloadChecked(const UpdateMeta& meta, const PayloadCheck& check,
                                                double now_s);
  void RecordMetrics(uint64_t version, std::map<std::string, double> metrics);
  // OK for a registered client that has not left and presents its current
  // session token; NOT_FOUND, PERMISSION_DENIED or FAILED_PRECONDITION (left).
  Status Authenticate(uint64_t client_id, const std::string& token) const;

  // ---- round inputs (never while a round job is out) ----
  void Submit(ValidatedUpdate update, double now_s);
  void Tick(double now_s);
  // A round that must close now (buffer full, all reported, deadline). The
  // buffered deltas move into the job (no copy of m models per round).
  std::optional<RoundJob> TakeRoundJob();
  // Failed aggregation: fail-stop (what was accepted is still written).
  void FinishRound(const RoundJob& job, Result<strategy::Step> step, double now_s);

  // ---- writes ----
  bool HasPendingWrite() const { return !pending_.empty(); }
  PendingWrite TakePendingWrite();
  Committed OnWriteCommitted(PendingWrite write);
  // Fail-stop; every outcome of the write becomes kInternal.
  std::vector<Ack> OnWriteFailed(PendingWrite write, const Status& why);

  // ---- state ----
  std::optional<double> NextDeadline() const;
  uint64_t version() const { return version_; }
  bool finished() const;
  const Status& health() const { return failed_; }
  bool round_job_out() const { return job_out_; }
  std::shared_ptr<const TensorList> model() const { return model_; }
  const strategy::StrategyState& strategy_state() const { return state_; }
  const EngineConfig& config() const { return config_; }
  const ModelSpec& spec() const { return spec_; }
  const strategy::Strategy& strategy() const { return *strategy_; }
  CoreCounters Counters() const;

 private:
  struct ClientState {
    std::string name;
    std::string token_sha256;
    std::string credential_sha256;  // empty: the name is not bound to a credential yet
    ClientCapabilities caps;
    double registered_at_s = 0;
    uint64_t registered_version = 0;
    bool training = false;  // checked in, update not yet received
    bool grace = false;     // resumed after a restart: one update without a check-in
    bool left = false;
    bool sent_from_current = false;  // sync mode: sent an update from `sent_base`
    uint64_t sent_base = 0;
  };
  struct Buffered {
    store::ParticipationRecord record;
    TensorList delta;
  };

  RoundCore(EngineConfig config, ModelSpec spec, std::unique_ptr<strategy::Strategy> strategy,
            bool record_history);
  static Status Validate(const EngineConfig& config);

  store::ClientRecord RecordOf(uint64_t id, const ClientState& c, double now_s) const;
  void EndCheckIn(ClientState& c);
  // Accepted (with its round) when this exact update was accepted before.
  std::optional<UpdateOutcome> AnswerRetry(const UpdateMeta& meta, uint64_t payload_checksum) const;
  void Reject(const UpdateMeta& meta, double received_at_s, RejectReason reason,
              std::string message, uint64_t staleness, std::optional<Ticket> ticket);
  bool AtMaxRounds() const;
  void MaybeCloseOnCount();
  void Fail(const Status& why);

  const EngineConfig config_;
  const ModelSpec spec_;
  const std::unique_ptr<strategy::Strategy> strategy_;
  const bool one_update_per_client_;
  const bool record_history_;

  // Clients.
  std::unordered_map<uint64_t, ClientState> clients_;
  std::unordered_map<std::string, uint64_t> ids_by_name_;
  std::set<uint64_t> members_;  // registered, not left
  uint64_t next_client_id_ = 1;
  uint32_t active_trainers_ = 0;

  // The committed model and round.
  std::shared_ptr<const TensorList> model_;
  strategy::StrategyState state_;
  uint64_t version_ = 1;
  double opened_at_s_ = 0;
  std::vector<Buffered> buffer_;
  // (client, base, payload checksum) -> round, for accepted updates whose
  // base can still be accepted (exactly-once across retransmissions).
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, uint64_t> accepted_keys_;
  uint64_t next_participation_id_ = 1;

  std::optional<RoundTrigger> close_due_;
  bool job_out_ = false;
  PendingWrite pending_;
  uint64_t pending_rejection_records_ = 0;

  uint64_t accepted_total_ = 0;
  uint64_t rejected_total_ = 0;
  uint64_t dropped_records_ = 0;
  uint64_t unauthenticated_total_ = 0;
  Status failed_;
};

}  // namespace murmur::server::core
