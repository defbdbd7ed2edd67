// ExperimentRunner: runs every strategy of an experiment for one seed on the
// same federation: the same workload (data split), the same p_n, the same
// availability (pattern or trace) and the same client system models, so
// strategies are compared on identical client behaviour.
//
// Threading: runs on the caller's thread, training on `pool`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/store/store.h"
#include "sim/availability_trace.h"
#include "sim/experiment.h"
#include "sim/simulation.h"
#include "sim/thread_pool.h"
#include "sim/workload.h"

namespace murmur::sim {

// Opens the store for one run (label, seed); returning null keeps no history.
using StoreFactory = std::function<Result<std::unique_ptr<server::store::Store>>(
    const std::string& label, uint64_t seed)>;

struct SeedRunOptions {
  const AvailabilityTrace* trace = nullptr;
  StoreFactory open_store;  // empty: an in-memory store per run
  // Called for every committed version of every run.
  std::function<void(const StrategyRun&, const RoundRow&)> on_round;
};

// p_n for each client: from the experiment's p_mode (seeded), or, with a
// trace, each client's online fraction over the trace's span.
Result<std::vector<double>> ParticipationProbabilities(const ExperimentConfig& e, uint64_t seed,
                                                       const Workload& workload,
                                                       const AvailabilityTrace* trace);

// Every strategy of `e` for `seed`, in the file's order. `workload` must be
// built for this seed and Prepare()d for pool.size() workers.
Result<std::vector<RunResult>> RunSeed(const ExperimentConfig& e, uint64_t seed,
                                       Workload& workload, ThreadPool& pool,
                                       const SeedRunOptions& options);

}  // namespace murmur::sim
