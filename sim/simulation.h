// Simulation: one strategy, one seed, on the discrete-event virtual clock.
//
// The production coordinator core (server/core/round_core.h) is driven
// synchronously through CoreDriver, with simulated time as its `now`:
// registrations, check-ins, updates (encoded and decoded exactly as over
// the network), deadlines and round closes. Around it, simulated clients
// come online (participation pattern slots or an availability trace), check
// in after a think time, download the model, train K local steps for
// batch*K*sec_per_sample simulated seconds (or drop out part-way), upload,
// and come back while they are online (in sync mode with synthetic
// patterns: once per online slot, as in the FedAU paper).
//
// Memory: an idle client is a few hundred bytes (its system model, pattern
// state and session); only clients with a job in flight hold a reference to
// the (shared) model version they pulled, and their delta once trained.
// Compute: local training is deferred until an update's arrival is
// processed, then every job in flight that is not yet trained runs at once
// on the thread pool. Each job depends only on (model version, client, K,
// seed), so results do not depend on the number of threads.
//
// Threading: RunSimulation runs on the caller's thread and uses `pool`.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/store/store.h"
#include "sim/availability_trace.h"
#include "sim/experiment.h"
#include "sim/thread_pool.h"
#include "sim/workload.h"

namespace murmur::sim {

// One row per committed version (version 1: the initial model at time 0).
struct RoundRow {
  uint64_t version = 0;
  double sim_time_s = 0;
  double accuracy = 0;  // NaN when not evaluated this version (or no accuracy)
  double loss = 0;      // NaN when not evaluated
  uint32_t participants = 0;
  double mean_staleness = 0;
  double sum_weights = 0;
  std::vector<uint32_t> clients;  // indices of the clients whose updates made this version
};

struct RunResult {
  std::string label;
  std::string strategy;
  uint64_t seed = 0;
  std::vector<RoundRow> rows;
  uint64_t check_ins = 0;
  uint64_t jobs_started = 0;
  uint64_t dropouts = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t trained = 0;  // local jobs actually computed
  double sim_end_s = 0;
  double wall_s = 0;
  std::vector<double> true_p;          // p_n per client
  std::vector<uint64_t> participations;  // accepted updates per client
  double optimal_loss = std::nan("");     // Workload::optimal_loss
};

struct SimulationInputs {
  const ExperimentConfig* experiment = nullptr;
  const StrategyRun* strategy = nullptr;
  uint64_t seed = 1;
  Workload* workload = nullptr;  // Prepare()d for pool->size() workers
  ThreadPool* pool = nullptr;
  const AvailabilityTrace* trace = nullptr;  // null: the synthetic pattern
  const std::vector<double>* p = nullptr;    // p_n per client
  server::store::Store* store = nullptr;     // null: no history kept
  std::function<void(const RoundRow&)> on_round;  // progress (versions as they commit)
};

Result<RunResult> RunSimulation(const SimulationInputs& in);

}  // namespace murmur::sim
