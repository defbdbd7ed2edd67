// ClientModel: one simulated device's system behaviour, drawn once per
// client from SystemOptions and the seed (identical for every strategy):
//   compute   seconds per sample, log-normal around a median
//             (FedScale-style: train time = batch * K * sec_per_sample);
//   network   bandwidth (log-normal around a median) and a fixed latency:
//             a transfer of B bytes takes latency + 8 B / bandwidth;
//   dropout   the probability that a started job is abandoned mid-training;
//   eagerness how often the client comes back when it is free (skewed
//             arrivals: an "eager" fraction of clients returns eager_factor
//             times as often);
//   K         its local steps per job: fixed, uniform in [k_min, k_max]
//             each job, or as many as fit its time budget (clamped).
// Draws that vary per job (K, dropout, think time) are counter-based on
// (client, job number), so they do not depend on the order of events.
//
// Threading: a value; immutable after construction.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/rng.h"
#include "common/status.h"

namespace murmur::sim {

enum class KPolicy { kFixed, kRange, kBudget };
Result<KPolicy> ParseKPolicy(std::string_view name);

struct SystemOptions {
  KPolicy k_policy = KPolicy::kFixed;
  int k = 5;               // kFixed
  int k_min = 1;           // kRange, kBudget clamp
  int k_max = 10;
  double time_budget_s = 10;      // kBudget: compute seconds a job may take
  int batch = 16;
  double sec_per_sample = 0.002;  // median
  double speed_sigma = 0.5;       // log-normal sigma of sec_per_sample
  double bandwidth_mbps = 20;     // median
  double bandwidth_sigma = 0.5;
  double latency_s = 0.05;
  double dropout = 0.0;           // per job
  double think_s = 5;             // mean wait before a free client checks in again
  double eager_fraction = 0.0;    // share of eager clients
  double eager_factor = 1.0;      // they come back this many times as often
};
Status ValidateSystemOptions(const SystemOptions& o);

class ClientModel {
 public:
  ClientModel() = default;
  ClientModel(const SystemOptions& o, uint64_t seed, uint32_t client);

  // K for job number `job` (0, 1, ...).
  int LocalSteps(uint64_t job) const;
  double ComputeSeconds(int k) const { return batch_ * k * sec_per_sample_; }
  double TransferSeconds(uint64_t bytes) const {
    return latency_s_ + 8.0 * static_cast<double>(bytes) / bandwidth_bps_;
  }
  // Whether job `job` is abandoned, and after what fraction of its compute.
  bool DropsOut(uint64_t job) const;
  double DropFraction(uint64_t job) const;
  // Delay before check-in number `attempt` once free (exponential).
  double ThinkSeconds(uint64_t attempt) const;
  // The seed of job `job`'s minibatch sampler.
  uint64_t JobSeed(uint64_t job) const;

  double sec_per_sample() const { return sec_per_sample_; }
  double bandwidth_bps() const { return bandwidth_bps_; }
  bool eager() const { return eager_; }

 private:
  double U(uint64_t what, uint64_t job) const;

  uint64_t seed_ = 0;
  uint32_t client_ = 0;
  KPolicy policy_ = KPolicy::kFixed;
  int k_ = 1, k_min_ = 1, k_max_ = 1;
  int budget_k_ = 1;
  int batch_ = 1;
  double sec_per_sample_ = 0;
  double bandwidth_bps_ = 1;
  double latency_s_ = 0;
  double dropout_ = 0;
  double think_s_ = 1;
  bool eager_ = false;
};

}  // namespace murmur::sim
