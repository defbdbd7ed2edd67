// FedAU's online estimate of each client's aggregation weight omega_n ~ 1/p_n
// (Wang & Ji, ICLR 2024), from the lengths of the intervals between its
// participations, with O(1) state per client (FedAuCounter).
//
// After each round t, for every registered client n (q = 1 iff n took part):
//     if q == 1:  record interval min(M_n + 1, K_cut); M_n = 0
//     else:       M_n += 1; if M_n >= K_cut: record interval K_cut; M_n = 0
//     omega_n = mean of the recorded intervals (1 before the first one)
// K_cut = 0 means infinity (no cut). The min() only matters when K_cut was
// lowered between runs; with a fixed K_cut, M_n + 1 <= K_cut always.
// The weight used in round t is FedAuWeight of the counter as it stood
// before round t (so it does not depend on q_n^t); advance afterwards.
//
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <unordered_set>

#include "server/strategy/strategy_state.h"

namespace murmur::server::strategy {

// omega_n from the counter: 1 before the first interval, else the mean interval.
double FedAuWeight(const FedAuCounter& c);

// The counter after one more round with participation `participated`.
FedAuCounter FedAuObserve(FedAuCounter c, bool participated, uint64_t k_cut);

// Advances the counter of every id in `all_clients` by one round (absent from
// `before`: a fresh counter); counters of ids not in `all_clients` are dropped.
std::map<uint64_t, FedAuCounter> FedAuAdvance(const std::map<uint64_t, FedAuCounter>& before,
                                              std::span<const uint64_t> all_clients,
                                              const std::unordered_set<uint64_t>& participated,
                                              uint64_t k_cut);

// FedAuWeight of `id`'s counter, 1 when it has none yet.
double FedAuWeightOf(const std::map<uint64_t, FedAuCounter>& counters, uint64_t id);

}  // namespace murmur::server::strategy
