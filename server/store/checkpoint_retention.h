// Which model checkpoints a store keeps once a newer version is committed:
// the newest `keep_checkpoints` versions AND every `keep_every`-th version
// (version % keep_every == 0). keep_checkpoints = 0 keeps every checkpoint;
// keep_every = 0 keeps no extra ones. Only the model (file) goes: the
// checkpoint, round and history rows stay, and loading a pruned version is
// NOT_FOUND "pruned". Both stores (SQLite and in-memory) apply this rule.
//
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace murmur::server::store {

// Defaults for a long-running coordinator (murmur-coordinator's flags): the
// disk stays bounded by about (5 + rounds / 100) model files. The store
// options themselves default to keeping everything.
inline constexpr uint32_t kDefaultKeepCheckpoints = 5;
inline constexpr uint32_t kDefaultKeepEvery = 100;

struct CheckpointRetention {
  uint32_t keep_checkpoints = 0;  // newest kept; 0: all
  uint32_t keep_every = 0;        // also every k-th version; 0: none

  // True when version `version`'s model is kept once `latest` is committed.
  bool Keeps(uint64_t version, uint64_t latest) const {
    if (keep_checkpoints == 0 || version + keep_checkpoints > latest) return true;
    return keep_every > 0 && version % keep_every == 0;
  }
  // Versions below this may be pruned (all versions >= it are kept).
  uint64_t OldestNewestKept(uint64_t latest) const {
    if (keep_checkpoints == 0 || latest < keep_checkpoints) return 0;
    return latest - keep_checkpoints + 1;
  }
  std::string Describe() const {
    return fmt::format("keep_checkpoints = {}, keep_every = {}", keep_checkpoints, keep_every);
  }
};

}  // namespace murmur::server::store
