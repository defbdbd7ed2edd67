// ParticipationStatsBuilder: computes ClientParticipationStats from the
// facts a store reads (clients, attempt counts, the closed rounds each client
// took part in), so every Store gives bit-identical statistics.
//
// Use: AddClient for each client; AddCounts and AddRound for its facts (a
// client never added is ignored); AddRound in ascending round order per
// client; then Finish once.
//
// Not synchronized; one per query.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "server/store/store_types.h"

namespace murmur::server::store {

class ParticipationStatsBuilder {
 public:
  // `latest_round`: the newest closed round (1 when none closed yet).
  explicit ParticipationStatsBuilder(uint64_t latest_round) : latest_(latest_round) {}

  void AddClient(uint64_t client_id, uint64_t registered_version);
  void AddCounts(uint64_t client_id, uint64_t accepted, uint64_t rejected);
  // A closed round in which the client had an accepted update.
  void AddRound(uint64_t client_id, uint64_t round);
  // The weight of its most recent weighted (closed) accepted update.
  void SetLastWeight(uint64_t client_id, double weight);
  // By client id.
  std::vector<ClientParticipationStats> Finish();

 private:
  uint64_t latest_;
  std::map<uint64_t, ClientParticipationStats> stats_;
  std::map<uint64_t, double> sum_sq_;
};

}  // namespace murmur::server::store
