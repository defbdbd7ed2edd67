#include "sim/client_model.h"

#include <algorithm>
#include <cmath>

#include "sim/participation.h"

namespace murmur::sim {

Result<KPolicy> ParseKPolicy(std::string_view name) {
  if (name == "fixed") return KPolicy::kFixed;
  if (name == "range") return KPolicy::kRange;
  if (name == "budget") return KPolicy::kBudget;
  return InvalidArgumentError("k_policy '" + std::string(name) +
                              "' is not one of fixed, range, budget");
}

Status ValidateSystemOptions(const SystemOptions& o) {
  if (o.k < 1 || o.k_min < 1 || o.k_max < o.k_min) {
    return InvalidArgumentError("need k >= 1 and 1 <= k_min <= k_max");
  }
  if (o.batch < 1) return InvalidArgumentError("batch must be >= 1");
  if (!(o.sec_per_sample >= 0) || !(o.speed_sigma >= 0) || !(o.bandwidth_mbps > 0) ||
      !(o.bandwidth_sigma >= 0) || !(o.latency_s >= 0) || !(o.think_s > 0) ||
      !(o.time_budget_s > 0)) {
    return InvalidArgumentError(
        "sec_per_sample, speed_sigma, bandwidth_sigma, latency_s must be >= 0; bandwidth_mbps, "
        "think_s, time_budget_s > 0");
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) return InvalidArgumentError("dropout must be in [0, 1)");
  if (!(o.eager_fraction >= 0 && o.eager_fraction <= 1) || !(o.eager_factor >= 1)) {
    return InvalidArgumentError("eager_fraction must be in [0, 1] and eager_factor >= 1");
  }
  return Status::Ok();
}

ClientModel::ClientModel(const SystemOptions& o, uint64_t seed, uint32_t client)
    : seed_(Mix64(seed ^ 0x5157u)),
      client_(client),
      policy_(o.k_policy),
      k_(o.k),
      k_min_(o.k_min),
      k_max_(o.k_max),
      batch_(o.batch),
      latency_s_(o.latency_s),
      dropout_(o.dropout),
      think_s_(o.think_s) {
  Rng r = Rng(seed).Fork(0x10000000ULL + client);
  sec_per_sample_ = o.sec_per_sample * std::exp(o.speed_sigma * r.Normal());
  bandwidth_bps_ = o.bandwidth_mbps * 1e6 * std::exp(o.bandwidth_sigma * r.Normal());
  eager_ = r.Uniform() < o.eager_fraction;
  if (eager_) think_s_ /= o.eager_factor;
  const double per_step = batch_ * sec_per_sample_;
  const double fit = per_step > 0 ? std::floor(o.time_budget_s / per_step) : k_max_;
  budget_k_ = static_cast<int>(std::clamp(fit, double(k_min_), double(k_max_)));
}

double ClientModel::U(uint64_t what, uint64_t job) const {
  return HashUniform(seed_ + what, client_, job);
}

int ClientModel::LocalSteps(uint64_t job) const {
  switch (policy_) {
    case KPolicy::kFixed: return k_;
    case KPolicy::kRange:
      return k_min_ + static_cast<int>(U(1, job) * (k_max_ - k_min_ + 1));
    case KPolicy::kBudget: return budget_k_;
  }
  return k_;
}

bool ClientModel::DropsOut(uint64_t job) const { return U(2, job) < dropout_; }
double ClientModel::DropFraction(uint64_t job) const { return U(3, job); }
double ClientModel::ThinkSeconds(uint64_t attempt) const {
  return -std::log(1.0 - U(4, attempt)) * think_s_;
}
uint64_t ClientModel::JobSeed(uint64_t job) const {
  return Mix64(seed_ ^ Mix64((uint64_t{client_} << 32) ^ job));
}

}  // namespace murmur::sim
