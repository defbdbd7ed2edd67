// EngineConfig: how the round engine closes rounds, which strategy it
// aggregates with, what it accepts, and how much it queues.
//
// One mechanism, several triggers; a round closes when the first enabled one
// fires:
//   buffer_full   updates_per_round (m) > 0 and m updates are buffered
//                 (async / anarchic mode: AFA-CD, FedBuff)
//   deadline      round_deadline_s > 0 and that long has passed on the
//                 engine's Clock since the round opened (sync mode: FedAU)
//   all_reported  sync mode, and every registered client (not left) has an
//                 update in the round
// kAsync: clients are never selected; they check in when they choose and say
//   K; the engine answers train (K clamped) or wait (trainer cap).
// kSync: as kAsync, but a client gets one update per round: after sending an
//   update from version v it is told to wait until v+1 is published.
// One update per client per round is also enforced in kAsync when the
// strategy needs it (Strategy::needs().one_update_per_client): a second one
// is rejected as a duplicate with that reason.
//
// Plain values; ValidateEngineConfig is pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "server/engine_types.h"
#include "server/strategy/strategy_factory.h"

namespace murmur::server {

enum class RoundMode { kAsync, kSync };
std::string_view RoundModeName(RoundMode m);  // "async", "sync"

struct EngineConfig {
  RoundMode mode = RoundMode::kAsync;
  uint32_t updates_per_round = 4;   // m: the buffer_full trigger (0: off)
  double round_deadline_s = 0;      // the deadline trigger (0: off)
  // At a deadline with no update buffered: close an empty round (FedAU counts
  // it: every client was absent) or just restart the deadline.
  bool close_empty_rounds = false;
  strategy::StrategyConfig strategy;  // name, server_lr (eta), ...
  // fedavg_known_p: p_n per client name (a client whose name is missing
  // cannot register), and/or per client id (tests, simulators).
  std::map<std::string, double> known_p_by_name;
  std::unordered_map<uint64_t, double> known_participation_prob;

  // tau_max. Unset: 0 in sync mode (a round takes only updates computed from
  // its own model, as in the FedAU paper), 4 in async mode.
  std::optional<uint64_t> max_staleness;
  uint64_t max_rounds = 0;               // finish after this many rounds (0: never)
  uint32_t max_concurrent_trainers = 0;  // 0: no cap
  double wait_retry_s = 1.0;             // hint sent with "wait"
  double max_update_norm = 1e6;          // per-update L2 bound
  size_t max_update_bytes = size_t{1} << 30;
  Encoding model_encoding = Encoding::kFp32;  // of the versions served to clients
  TrainingRecipe recipe;

  // Back-pressure: validated updates waiting for the worker, each counted as
  // its payload plus its decoded fp32 delta. Beyond either
  // bound SubmitUpdate answers kBusy (the check-in stays open so the client
  // may retry the same update).
  size_t max_queued_updates = 256;
  size_t max_queued_bytes = size_t{2} << 30;
  double busy_retry_s = 0.2;  // hint in the kBusy message
  // Threads that validate updates (checksum, decode, finiteness, norm); 0:
  // half the hardware threads, between 1 and 4. Not a job setting.
  size_t validation_threads = 0;
  // History records of rejections waiting for the worker; beyond it they
  // are dropped (counted) so a flood of bad requests cannot grow memory.
  size_t max_queued_records = 100000;
  // A failed store write (a full disk, no file descriptors left, ...) is
  // retried with backoff for this long, the worker waiting and the front
  // still answering (busy once the queue fills), before the engine
  // fail-stops. 0: no retry.
  double store_retry_s = 10;
  // A restart whose settings differ from those saved with the job's state
  // (job_settings.h) is refused naming each difference, unless this is set.
  bool allow_settings_change = false;
  // A client's first registration must present a credential (an enrollment
  // secret or its mTLS certificate subject) that its name is then bound to;
  // false (--allow-anonymous-clients) lets a name register without one, as
  // before identity binding (anyone may then take that name over).
  bool require_credential = true;
};

// The effective tau_max (see EngineConfig::max_staleness).
uint64_t MaxStaleness(const EngineConfig& config);

// How many versions back a retry of an accepted update is still recognised
// (and answered accepted): max(tau_max, 256).
uint64_t AcceptedKeyHorizon(const EngineConfig& config);

// INVALID_ARGUMENT naming the bad field; also validates the strategy config.
Status ValidateEngineConfig(const EngineConfig& config);

}  // namespace murmur::server
