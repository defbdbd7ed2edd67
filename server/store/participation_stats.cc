#include "server/store/participation_stats.h"

#include <algorithm>
#include <cmath>

namespace murmur::server::store {

void ParticipationStatsBuilder::AddClient(uint64_t client_id, uint64_t registered_version) {
  ClientParticipationStats s;
  s.client_id = client_id;
  s.rounds_since_registration = latest_ > registered_version ? latest_ - registered_version : 0;
  stats_[client_id] = s;
}

void ParticipationStatsBuilder::AddCounts(uint64_t client_id, uint64_t accepted,
                                          uint64_t rejected) {
  auto it = stats_.find(client_id);
  if (it == stats_.end()) return;  // attempts under ids that never registered
  it->second.accepted = accepted;
  it->second.rejected = rejected;
}

void ParticipationStatsBuilder::AddRound(uint64_t client_id, uint64_t round) {
  auto it = stats_.find(client_id);
  if (it == stats_.end()) return;
  ClientParticipationStats& s = it->second;
  if (s.rounds_participated > 0) {
    const uint64_t gap = round - s.last_round;
    s.min_interval = s.intervals == 0 ? gap : std::min(s.min_interval, gap);
    s.max_interval = std::max(s.max_interval, gap);
    ++s.intervals;
    s.mean_interval += static_cast<double>(gap);
    sum_sq_[client_id] += static_cast<double>(gap) * static_cast<double>(gap);
  }
  ++s.rounds_participated;
  s.last_round = round;
}

void ParticipationStatsBuilder::SetLastWeight(uint64_t client_id, double weight) {
  auto it = stats_.find(client_id);
  if (it != stats_.end()) it->second.last_weight = weight;
}

std::vector<ClientParticipationStats> ParticipationStatsBuilder::Finish() {
  std::vector<ClientParticipationStats> out;
  out.reserve(stats_.size());
  for (auto& [id, s] : stats_) {
    if (s.intervals > 0) {
      const double n = static_cast<double>(s.intervals);
      s.mean_interval /= n;
      const double var = sum_sq_[id] / n - s.mean_interval * s.mean_interval;
      s.stddev_interval = std::sqrt(std::max(0.0, var));
    }
    if (s.rounds_since_registration > 0) {
      s.participation_rate = static_cast<double>(s.rounds_participated) /
                             static_cast<double>(s.rounds_since_registration);
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace murmur::server::store
