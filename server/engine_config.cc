#include "server/engine_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace murmur::server {

std::string_view RoundModeName(RoundMode m) {
  return m == RoundMode::kSync ? "sync" : "async";
}

std::string_view RoundTriggerName(RoundTrigger t) {
  switch (t) {
    case RoundTrigger::kBufferFull: return "buffer_full";
    case RoundTrigger::kDeadline: return "deadline";
    case RoundTrigger::kAllReported: return "all_reported";
  }
  return "unknown";
}

uint64_t MaxStaleness(const EngineConfig& c) {
  if (c.max_staleness) return *c.max_staleness;
  return c.mode == RoundMode::kSync ? 0 : 4;
}

uint64_t AcceptedKeyHorizon(const EngineConfig& c) {
  return std::max<uint64_t>(MaxStaleness(c), 256);
}

Status ValidateEngineConfig(const EngineConfig& c) {
  if (c.updates_per_round == 0 && !(c.round_deadline_s > 0) && c.mode != RoundMode::kSync) {
    return InvalidArgumentError(
        "no round trigger: set updates_per_round (m) > 0 or round_deadline_s > 0");
  }
  if (!(std::isfinite(c.round_deadline_s) && c.round_deadline_s >= 0)) {
    return InvalidArgumentError(
        fmt::format("round_deadline_s must be finite and >= 0, got {}", c.round_deadline_s));
  }
  if (c.mode == RoundMode::kSync && c.updates_per_round == 0 && !(c.round_deadline_s > 0)) {
    // all_reported alone would wait forever for a client that never comes.
    return InvalidArgumentError("sync mode needs a round_deadline_s > 0 (or updates_per_round)");
  }
  if (c.recipe.min_local_steps == 0 || c.recipe.min_local_steps > c.recipe.max_local_steps) {
    return InvalidArgumentError(fmt::format(
        "recipe: local steps range [{}, {}] must be non-empty and start at 1 or more",
        c.recipe.min_local_steps, c.recipe.max_local_steps));
  }
  if (!api::IsKnownOptimizer(c.recipe.optimizer)) {
    return InvalidArgumentError(fmt::format("recipe: unknown optimizer '{}' (known: {})",
                                            c.recipe.optimizer, api::KnownOptimizers()));
  }
  if (!(std::isfinite(c.recipe.momentum) && c.recipe.momentum >= 0 && c.recipe.momentum < 1)) {
    return InvalidArgumentError(
        fmt::format("recipe: momentum must be in [0, 1), got {}", c.recipe.momentum));
  }
  if (!(std::isfinite(c.recipe.local_lr) && c.recipe.local_lr > 0)) {
    return InvalidArgumentError(
        fmt::format("recipe: local_lr must be finite and > 0, got {}", c.recipe.local_lr));
  }
  if (!(c.max_update_norm > 0)) {
    return InvalidArgumentError(
        fmt::format("max_update_norm must be > 0, got {}", c.max_update_norm));
  }
  if (!(std::isfinite(c.store_retry_s) && c.store_retry_s >= 0)) {
    return InvalidArgumentError(
        fmt::format("store_retry_s must be finite and >= 0, got {}", c.store_retry_s));
  }
  if (c.max_queued_updates == 0 || c.max_queued_bytes == 0) {
    return InvalidArgumentError("max_queued_updates and max_queued_bytes must be > 0");
  }
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          strategy::MakeStrategy(c.strategy));
  if (strategy->needs().known_participation_prob) {
    if (c.known_participation_prob.empty() && c.known_p_by_name.empty()) {
      return InvalidArgumentError(fmt::format(
          "strategy {} needs each client's participation probability p_n, and none is "
          "configured (give known_p_by_name, e.g. --known-p-file, or known_participation_prob)",
          c.strategy.name));
    }
    for (const auto& [id, p] : c.known_participation_prob) {
      if (!(p > 0 && p <= 1)) {
        return InvalidArgumentError(fmt::format(
            "known_participation_prob of client {} must be in (0, 1], got {}", id, p));
      }
    }
    for (const auto& [name, p] : c.known_p_by_name) {
      if (!(p > 0 && p <= 1)) {
        return InvalidArgumentError(fmt::format(
            "known_p_by_name of client '{}' must be in (0, 1], got {}", name, p));
      }
    }
  }
  return Status();
}

}  // namespace murmur::server
