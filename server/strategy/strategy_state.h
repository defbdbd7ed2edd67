// StrategyState: everything a strategy needs to resume, as one plain value.
//
// A strategy is a pure function; what it must remember between rounds lives
// here and is persisted by the caller after every round, so a restarted
// coordinator continues the same trajectory:
//   - the name of the strategy that wrote it (a state is never fed to another rule),
//   - the number of steps applied and the last round number,
//   - FedAU's O(1) counters per client (fedau, afa_fedau),
//   - a table with one tensor list per client (MIFA and FedVARP: the latest
//     delta; AFA-CS: the latest step-normalized G_i).
// Table tensors are immutable and shared between copies of a state, so
// copying a state (each Step returns a new one) costs O(clients), not O(N*d).
//
// Serialization (little-endian, canonical: ids ascending, tables as fp32
// tensor-codec blobs), so SerializeState(ParseState(b)) == b for every b
// ParseState accepts:
//   "MRSS" | u16 format (1) | u16 flags (0) | u16 name length | name
//   | u64 steps | u64 last_round
//   | u64 #counters | per counter: u64 client | u64 M | u64 #intervals | u64 sum of intervals
//   | u64 #rows | per row: u64 client | u64 round | f64 local_lr | u64 blob bytes | blob
//   | u64 XXH3-64 of everything before it
//
// Plain values with no synchronization; the functions are pure and safe from
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur::server::strategy {

// FedAU's interval-length estimator for one client (see fedau_estimator.h).
struct FedAuCounter {
  uint64_t absent_run = 0;    // M_n: rounds since the last recorded interval ended
  uint64_t intervals = 0;     // number of intervals recorded
  uint64_t interval_sum = 0;  // their total length (integers: the mean is exact)
  friend bool operator==(const FedAuCounter&, const FedAuCounter&) = default;
};

// One client's latest entry in a strategy table.
struct TableEntry {
  std::shared_ptr<const TensorList> value;  // never null in a valid state
  double local_lr = 0;                      // local_lr of the update that wrote it
  uint64_t round = 0;                       // round in which it was written
};
// Same round, same local_lr and bit-identical tensors.
bool operator==(const TableEntry& a, const TableEntry& b);

struct StrategyState {
  std::string strategy;     // name of the strategy that wrote it; empty: fresh
  uint64_t steps = 0;       // Aggregate calls applied to this state
  uint64_t last_round = 0;  // RoundInput::round of the last step (meaningful when steps > 0)
  std::map<uint64_t, FedAuCounter> fedau;  // by client id
  std::map<uint64_t, TableEntry> table;    // by client id
  friend bool operator==(const StrategyState&, const StrategyState&) = default;
};

inline constexpr uint16_t kStrategyStateFormatVersion = 1;

// Fails (INVALID_ARGUMENT) on a null table entry or non-finite values.
Result<std::string> SerializeState(const StrategyState& state);
// Treats `bytes` as untrusted. INVALID_ARGUMENT when malformed or not in the
// canonical form SerializeState writes; DATA_LOSS on a checksum mismatch.
Result<StrategyState> ParseState(std::string_view bytes);

// True when the two tensor lists have the same names, shapes and bit-identical values.
bool SameTensors(const TensorList& a, const TensorList& b);

}  // namespace murmur::server::strategy
