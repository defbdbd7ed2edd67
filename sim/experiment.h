// Experiment: one simulator run described in a TOML file — the strategies to
// compare, the seeds, the budget (rounds and/or simulated time), and the
// data, participation and system settings every strategy shares. For one
// seed, every strategy sees identical client behaviour (the same data
// split, p_n, availability, speeds, K choices and minibatch seeds).
//
// File layout (every key optional unless noted; unknown keys are errors
// that name the file, line and key):
//   name = "tiny"            seeds = [1, 2]
//   rounds = 30              # stop after this many rounds (0: no limit)
//   sim_time_s = 0           # stop at this simulated time (0: no limit)
//   eval_every = 1           # evaluate every n-th version
//   threads = 0              # local-training threads (0: one per core)
//   [workload]   kind = "regression" | "fashion_mnist", clients, batch,
//                local_lr, optimizer, partition ("iid", "dirichlet",
//                "shards"), alpha, eval_samples (0: the whole test set),
//                data_dir, model_dim, model_blocks, dim, samples_per_client,
//                heterogeneity
//   [participation]  p_mode ("equal", "uniform", "data"), mean_p, p_min,
//                pattern ("bernoulli", "markov", "cyclic", "always"),
//                markov_a, cyclic_period, slot_s, trace (a CSV file,
//                availability_trace.h; relative to the experiment file)
//   [system]     k_policy ("fixed", "range", "budget"), k, k_min, k_max,
//                time_budget_s, sec_per_sample, speed_sigma,
//                bandwidth_mbps, bandwidth_sigma, latency_s, dropout,
//                think_s, eager_fraction, eager_factor
//   [[strategy]] (at least one) name (required: fedau, afa_cd, ...), label,
//                mode ("sync" | "async"), server_lr, updates_per_round,
//                round_deadline_s (sync default: slot_s), max_staleness,
//                fedau_k_cut, afa_local_lr, afa_cs_warmup ("all": AFA-CS
//                averages over every registered client, unseen ones as 0,
//                as the paper; "seen": over the clients it has an update
//                of), max_concurrent_trainers
//
// Threading: plain values; parsing is pure apart from reading the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/engine_config.h"
#include "sim/client_model.h"
#include "sim/participation.h"

namespace murmur::sim {

struct WorkloadConfig {
  std::string kind = "regression";
  uint32_t clients = 20;
  int batch = 16;
  double local_lr = 0.05;
  std::string optimizer = "sgd";
  std::string partition = "dirichlet";
  double alpha = 0.1;
  int eval_samples = 0;
  std::string data_dir;  // empty: the default Fashion-MNIST directory
  int model_dim = 0;     // 0: the default model
  int model_blocks = 0;
  int dim = 8;                     // regression
  uint32_t samples_per_client = 64;  // regression
  double heterogeneity = 1.0;        // regression
};

struct ParticipationConfig {
  ProbabilityMode p_mode = ProbabilityMode::kEqual;
  double mean_p = 0.5;
  double p_min = 0.02;
  PatternOptions pattern;
  double slot_s = 60;
  std::string trace;  // resolved path, empty: synthetic pattern
};

struct StrategyRun {
  std::string label;
  server::EngineConfig engine;
};

struct ExperimentConfig {
  std::string name = "experiment";
  std::vector<uint64_t> seeds = {1};
  uint64_t rounds = 0;
  double sim_time_s = 0;
  uint64_t eval_every = 1;
  int threads = 0;
  WorkloadConfig workload;
  ParticipationConfig participation;
  SystemOptions system;
  std::vector<StrategyRun> strategies;
};

// Parses TOML text; `name` (the file) appears in every error, with the line.
// `base_dir` resolves a relative trace path.
Result<ExperimentConfig> ParseExperiment(const std::string& text, const std::string& name,
                                         const std::string& base_dir);
Result<ExperimentConfig> LoadExperiment(const std::string& path);

}  // namespace murmur::sim
