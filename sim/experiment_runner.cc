#include "sim/experiment_runner.h"

#include <algorithm>

#include "server/store/memory_store.h"

namespace murmur::sim {

Result<std::vector<double>> ParticipationProbabilities(const ExperimentConfig& e, uint64_t seed,
                                                       const Workload& workload,
                                                       const AvailabilityTrace* trace) {
  const uint32_t n = workload.num_clients();
  if (trace) {
    double horizon = e.sim_time_s;
    for (uint32_t c = 0; c < trace->num_clients(); ++c) {
      if (!trace->intervals(c).empty()) horizon = std::max(horizon, trace->intervals(c).back().to_s);
    }
    std::vector<double> p(n, 0.0);
    for (uint32_t c = 0; c < n; ++c) p[c] = horizon > 0 ? trace->OnlineFraction(c, horizon) : 0;
    return p;
  }
  Rng rng = Rng(seed).Fork(0x9000);
  return AssignProbabilities(e.participation.p_mode, n, e.participation.mean_p,
                             e.participation.p_min, workload.LabelDistributions(), rng);
}

Result<std::vector<RunResult>> RunSeed(const ExperimentConfig& e, uint64_t seed,
                                       Workload& workload, ThreadPool& pool,
                                       const SeedRunOptions& options) {
  MURMUR_ASSIGN_OR_RETURN(std::vector<double> p,
                          ParticipationProbabilities(e, seed, workload, options.trace));
  std::vector<RunResult> out;
  for (const StrategyRun& run : e.strategies) {
    std::unique_ptr<server::store::Store> store;
    if (options.open_store) {
      MURMUR_ASSIGN_OR_RETURN(store, options.open_store(run.label, seed));
    } else {
      store = server::store::InMemoryStore::Create();
    }
    SimulationInputs in;
    in.experiment = &e;
    in.strategy = &run;
    in.seed = seed;
    in.workload = &workload;
    in.pool = &pool;
    in.trace = options.trace;
    in.p = &p;
    in.store = store.get();
    if (options.on_round) in.on_round = [&](const RoundRow& row) { options.on_round(run, row); };
    Result<RunResult> r = RunSimulation(in);
    if (!r.ok()) return r.status().WithContext(run.label + " (seed " + std::to_string(seed) + ")");
    r->optimal_loss = workload.optimal_loss();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace murmur::sim
