// Participant: one client's life with a coordinator, written against
// api::CoordinatorApi (gRPC in the daemon, in-process in tests).
//
//   register (once per session; the identity, including the enrollment
//   secret its name is bound to, is persisted in the state directory and
//   reused after a restart, so the client keeps its id)
//   loop:
//     send what is in the outbox (updates finished earlier)
//     policy decides "now, K steps" or "not now, because ..."
//     check in -> pull the model version granted (the transport resumes a
//     broken download from its offset) -> train K steps with LocalTrainer on
//     the client's shard (stopping at a step boundary when asked) -> save
//     the update in the outbox -> push it -> record the outcome
//
// Failures: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED,
// DATA_LOSS (coordinator down, busy, restarting, a corrupt download) wait
// with exponential backoff and jitter; a diverged local job (the trainer's
// ABORTED) is dropped; a lost session
// (PERMISSION_DENIED, FAILED_PRECONDITION, an unknown client after a
// coordinator reset) registers again; an update stays in the outbox until
// the coordinator answers it accepted or rejects it for good (too stale,
// malformed, finished, ...), each logged. An update refused only because no
// check-in is outstanding (a restarted client) is sent again after a check-in.
// The task comes from the coordinator, and a client that cannot serve it
// says so and does not train (a fatal error: Run leaves the session,
// freeing its check-in, and returns it, FAILED_PRECONDITION):
//   - Register answers the job's model spec: it must equal this client's
//     model (names and shapes, in order); every check-in's recipe carries
//     the spec's hash, checked again (the job may have been replaced);
//   - the recipe's optimizer must be one the LocalTrainer implements;
//   - a downloaded model must decode to the client's spec.
// A registration refused for the credential or for the update encoding is
// fatal too. The capabilities' device is the one the trainer picked
// ("cpu", "cuda:0"), not the configured "auto".
//
// The recipe from the check-in is honoured: learning rate, batch size,
// optimizer and momentum, the accepted K range (the policy's K is clamped
// to it) and the update encoding. A check-in that says have_current trains
// on the model already held (no pull).
//
// Threading: Run (or RunOnce) on one thread (the training thread); Stop,
// ReplacePolicy and stats() from any thread. Stop takes effect at the next
// step boundary or wait; an update already trained is kept in the outbox.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/runtime/backoff.h"
#include "client/runtime/outbox.h"
#include "client/runtime/policy.h"
#include "client/runtime/state_dir.h"
#include "common/api/coordinator_api.h"
#include "common/clock.h"
#include "common/rng.h"
#include "ml/examples.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"

namespace murmur::client {

struct ParticipantOptions {
  std::string name;               // the client's name at the coordinator
  std::string enrollment_secret;  // empty: the persisted one, else a generated one
  api::ClientCapabilities capabilities;
  model::ModelConfig model;           // must give the coordinator's tensor spec
  trainer::TrainOptions train;        // device, optimizer; lr and batch come from the recipe
  uint64_t seed = 1;
  BackoffOptions backoff;
  double min_wait_s = 0.05;      // floor on any wait
  double max_wait_s = 60;        // cap on a wait hint (policy or coordinator)
  bool exit_when_finished = true;  // Run returns OK when the job has finished
  uint64_t max_participations = 0;  // Run returns after this many pushed updates (0: no limit)
  // Called on the training thread after each local step (1-based count of
  // the current job): progress reporting; tests stop at a chosen step.
  std::function<void(int64_t step)> on_step;
};

struct ParticipantStats {
  uint64_t trained = 0;      // local jobs finished
  uint64_t accepted = 0;     // updates answered accepted
  uint64_t rejected = 0;     // updates dropped after a definitive rejection
  uint64_t registrations = 0;
  uint64_t transient_errors = 0;
  uint64_t last_version = 0;  // last global version pulled
  bool finished = false;      // the coordinator said the job has finished
};

class Participant {
 public:
  // `examples` and everything pointed to must outlive the participant.
  Participant(ParticipantOptions options, api::CoordinatorApi* api,
              std::unique_ptr<ParticipationPolicy> policy, StateDir state, Clock* clock,
              const model::Examples* examples, std::vector<uint32_t> shard);
  ~Participant();

  // Loops until Stop, the job's end (exit_when_finished) or
  // max_participations; returns a fatal error otherwise.
  Status Run();
  // One iteration; returns the seconds to wait before the next (Run waits).
  Result<double> RunOnce();

  void Stop();
  bool stopping() const { return stop_.load(); }
  // Used from the next iteration on (SIGHUP reload).
  void ReplacePolicy(std::unique_ptr<ParticipationPolicy> policy);
  ParticipantStats stats() const;

 private:
  enum class PushResult { kDone, kRetryLater, kLostSession };
  Status EnsureRegistered();
  // Sends everything in the outbox; false when something must wait.
  Result<bool> FlushOutbox(double* wait_s);
  Result<PushResult> SendEntry(const OutboxEntry& entry, double* wait_s);
  Result<double> Participate(uint32_t intended_k);
  // Builds the model once (its spec and the device the trainer picked).
  Status EnsureModel();
  // FAILED_PRECONDITION when this client cannot serve the recipe's task.
  Status CheckRecipe(const api::TrainingRecipe& recipe) const;
  Status EnsureTrainer(const api::TrainingRecipe& recipe);
  // K steps from `global`; stops early at a step boundary on Stop.
  Result<trainer::LocalUpdate> Train(const TensorList& global, int64_t steps);
  void RecordOutcome(const api::UpdateToPush& u, const std::string& outcome, bool accepted,
                     bool rejected, uint64_t round_version);
  double TransientWait(const Status& st, std::string_view what);
  bool IsSessionError(const Status& st) const;
  bool LimitReached() const;
  void WaitFor(double seconds);
  ParticipationPolicy* policy();

  ParticipantOptions options_;
  api::CoordinatorApi* api_;
  StateDir state_;
  Outbox outbox_;
  Clock* clock_;
  const model::Examples* examples_;
  std::vector<uint32_t> shard_;
  Rng rng_;
  Backoff backoff_;

  ClientIdentity identity_;
  bool registered_ = false;
  std::unique_ptr<trainer::LocalTrainer> trainer_;
  trainer::TrainOptions trainer_options_;  // what trainer_ was built with
  ModelSpec model_spec_;                   // this client's model
  uint64_t model_spec_hash_ = 0;
  uint64_t held_version_ = 0;
  TensorList held_model_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards the fields below, and stop waits
  std::condition_variable wake_;
  std::unique_ptr<ParticipationPolicy> policy_;
  std::unique_ptr<ParticipationPolicy> next_policy_;
  ParticipantStats stats_;
};

}  // namespace murmur::client
