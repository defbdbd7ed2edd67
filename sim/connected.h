// Connected mode (`murmur-sim --connect host:port`): the experiment's
// virtual clients [first, last) drive a running murmur-coordinator over real
// gRPC, one client::ConnectCoordinator session each: a load generator, and
// how a simulation grows past one machine (several processes, each with its
// own client range, drive one coordinator).
//
// Time here is WALL time, not the virtual clock: the coordinator decides
// rounds on its own clock (deadlines, updates_per_round), the strategy and
// the recipe are the coordinator's (the experiment's [[strategy]] tables are
// ignored), and results depend on scheduling, so they are not reproducible
// byte for byte. What the experiment still decides: the data split, p_n and
// the participation pattern (one slot = `slot_s` wall seconds; an online
// client does at most one job per slot), and K (the client model's choice,
// which the coordinator may clamp).
//
// Threading: RunConnected runs `workers` threads (each owns the sessions of
// its share of the clients and trains on its own Workload worker) and
// returns when every thread has stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/transport/channel.h"
#include "common/status.h"
#include "sim/experiment.h"
#include "sim/workload.h"

namespace murmur::sim {

struct ConnectedOptions {
  client::ConnectOptions connect;
  uint32_t first = 0;  // client indices [first, last) of the experiment's clients
  uint32_t last = 0;
  uint64_t seed = 1;
  size_t workers = 1;  // threads; the workload must be Prepare()d for this many
  double slot_s = 1.0;      // wall seconds per participation slot
  double max_wall_s = 0;    // stop after this long (0: when the coordinator finishes)
  std::string name_prefix = "murmur-sim-client-";
  // Called from the worker threads (serialised) whenever a version newer than
  // any seen so far is observed.
  std::function<void(uint64_t version)> on_version;
};

struct ConnectedStats {
  uint64_t registered = 0;
  uint64_t check_ins = 0;
  uint64_t waits = 0;
  uint64_t jobs = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t transient_errors = 0;  // UNAVAILABLE / DEADLINE_EXCEEDED, retried
  uint64_t first_version = 0;     // the first and last global versions seen
  uint64_t last_version = 0;
  bool finished = false;  // the coordinator said the job is finished
  double wall_s = 0;
};

Result<ConnectedStats> RunConnected(const ExperimentConfig& e, Workload& workload,
                                    const std::vector<double>& p, const ConnectedOptions& options);

// "A:B" (clients A..B-1) or "" (all `n`). Errors name the bad text.
Status ParseClientRange(const std::string& text, uint32_t n, uint32_t* first, uint32_t* last);

}  // namespace murmur::sim
