#include "server/strategy/fedau_estimator.h"

#include <algorithm>

namespace murmur::server::strategy {

double FedAuWeight(const FedAuCounter& c) {
  if (c.intervals == 0) return 1.0;
  return static_cast<double>(c.interval_sum) / static_cast<double>(c.intervals);
}

FedAuCounter FedAuObserve(FedAuCounter c, bool participated, uint64_t k_cut) {
  auto record = [&c](uint64_t interval) {
    ++c.intervals;
    c.interval_sum += interval;
    c.absent_run = 0;
  };
  if (participated) {
    const uint64_t interval = c.absent_run + 1;
    record(k_cut == 0 ? interval : std::min(interval, k_cut));
  } else {
    ++c.absent_run;
    if (k_cut != 0 && c.absent_run >= k_cut) record(k_cut);
  }
  return c;
}

std::map<uint64_t, FedAuCounter> FedAuAdvance(const std::map<uint64_t, FedAuCounter>& before,
                                              std::span<const uint64_t> all_clients,
                                              const std::unordered_set<uint64_t>& participated,
                                              uint64_t k_cut) {
  std::map<uint64_t, FedAuCounter> after;
  for (uint64_t id : all_clients) {
    auto it = before.find(id);
    const FedAuCounter c = it == before.end() ? FedAuCounter{} : it->second;
    after[id] = FedAuObserve(c, participated.contains(id), k_cut);
  }
  return after;
}

double FedAuWeightOf(const std::map<uint64_t, FedAuCounter>& counters, uint64_t id) {
  auto it = counters.find(id);
  return it == counters.end() ? 1.0 : FedAuWeight(it->second);
}

}  // namespace murmur::server::strategy
