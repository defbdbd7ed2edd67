// StrategyConfig and MakeStrategy: build a strategy by name with its
// parameters, validating them once so Aggregate never meets a bad setting.
//
// Names: fedavg_participants, fedavg_all, fedavg_known_p, fedau, mifa,
// fedvarp, afa_cd, afa_cs, fedbuff, afa_fedau.
//
// Plain values; MakeStrategy is pure, safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/strategy/afa_cs.h"
#include "server/strategy/staleness.h"
#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

struct StrategyConfig {
  std::string name = "fedavg_participants";
  // eta (FedBuff: eta_g). Finite and > 0.
  double server_lr = 1.0;
  // fedavg_participants: weight by num_samples instead of 1/|S|.
  bool sample_weighted = false;
  // fedau, afa_fedau: FedAU's interval cut-off K_cut; 0 means infinity.
  uint64_t fedau_k_cut = 50;
  // afa_cd, afa_cs, afa_fedau: the server's eta_L; 0 means each update's own local_lr.
  double afa_local_lr = 0.0;
  // afa_cd, afa_fedau (default: none) and fedbuff (default: inv_sqrt). Other
  // strategies accept only default or none.
  StalenessConfig staleness;
  // afa_cs: what the table average divides by before every worker has reported.
  AfaCsWarmup afa_cs_warmup = AfaCsWarmup::kAllRegistered;
  // fedbuff: the paper's buffer size K, the divisor of every step (a partial
  // buffer closed at a deadline still divides by K). 0: divide by |B|, the
  // number of updates in the round. The engine sets it from updates_per_round.
  uint32_t fedbuff_buffer_size = 0;
};

// The names MakeStrategy knows, in a stable order.
const std::vector<std::string_view>& StrategyNames();

// INVALID_ARGUMENT for an unknown name or a parameter out of range.
Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& cfg);

}  // namespace murmur::server::strategy
