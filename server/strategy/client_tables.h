// Helpers for the per-client bookkeeping strategies share: who took part in
// a round, and the per-client tables (MIFA, FedVARP, AFA-CS) restricted to
// the registered clients.
//
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <unordered_set>

#include "server/strategy/strategy.h"
#include "server/strategy/strategy_state.h"

namespace murmur::server::strategy {

// The distinct client ids of `updates`.
std::unordered_set<uint64_t> ParticipantIds(std::span<const ClientUpdate> updates);

// The rows of `table` whose client is in `all_clients` (a client that left
// stops counting: its stale entry must not keep pulling the model).
std::map<uint64_t, TableEntry> KeepRegistered(const std::map<uint64_t, TableEntry>& table,
                                              std::span<const uint64_t> all_clients);

// A table row holding a copy of `value`.
TableEntry MakeEntry(TensorList value, double local_lr, uint64_t round);

}  // namespace murmur::server::strategy
