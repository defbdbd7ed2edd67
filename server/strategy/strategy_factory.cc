#include "server/strategy/strategy_factory.h"

#include <fmt/format.h>

#include <cmath>

#include "server/strategy/afa_cd.h"
#include "server/strategy/afa_fedau.h"
#include "server/strategy/fedau.h"
#include "server/strategy/fedavg.h"
#include "server/strategy/fedbuff.h"
#include "server/strategy/fedvarp.h"
#include "server/strategy/mifa.h"

namespace murmur::server::strategy {

const std::vector<std::string_view>& StrategyNames() {
  static const std::vector<std::string_view> names = {
      "fedavg_participants", "fedavg_all", "fedavg_known_p", "fedau",   "mifa",
      "fedvarp",             "afa_cd",     "afa_cs",         "fedbuff", "afa_fedau"};
  return names;
}

Result<std::unique_ptr<Strategy>> MakeStrategy(const StrategyConfig& cfg) {
  const std::string& name = cfg.name;
  if (!(std::isfinite(cfg.server_lr) && cfg.server_lr > 0)) {
    return InvalidArgumentError(
        fmt::format("{}: server_lr must be finite and > 0, got {}", name, cfg.server_lr));
  }
  if (!(std::isfinite(cfg.afa_local_lr) && cfg.afa_local_lr >= 0)) {
    return InvalidArgumentError(fmt::format(
        "{}: afa_local_lr must be finite and >= 0 (0: use each update's local_lr), got {}", name,
        cfg.afa_local_lr));
  }
  const bool discounts = name == "afa_cd" || name == "fedbuff" || name == "afa_fedau";
  const StalenessConfig staleness = Resolve(
      cfg.staleness, name == "fedbuff" ? StalenessKind::kInvSqrt : StalenessKind::kNone);
  if (!discounts && staleness.kind != StalenessKind::kNone) {
    return InvalidArgumentError(fmt::format(
        "{} takes no staleness discount (got {}); only afa_cd, fedbuff and afa_fedau do", name,
        StalenessKindName(staleness.kind)));
  }
  MURMUR_RETURN_IF_ERROR(Validate(staleness).WithContext(name));

  std::unique_ptr<Strategy> s;
  const double eta = cfg.server_lr;
  if (name == "fedavg_participants") {
    s = std::make_unique<FedAvgParticipants>(eta, cfg.sample_weighted);
  } else if (name == "fedavg_all") {
    s = std::make_unique<FedAvgAll>(eta);
  } else if (name == "fedavg_known_p") {
    s = std::make_unique<FedAvgKnownP>(eta);
  } else if (name == "fedau") {
    s = std::make_unique<FedAu>(eta, cfg.fedau_k_cut);
  } else if (name == "mifa") {
    s = std::make_unique<Mifa>(eta);
  } else if (name == "fedvarp") {
    s = std::make_unique<FedVarp>(eta);
  } else if (name == "afa_cd") {
    s = std::make_unique<AfaCd>(eta, cfg.afa_local_lr, staleness);
  } else if (name == "afa_cs") {
    s = std::make_unique<AfaCs>(eta, cfg.afa_local_lr, cfg.afa_cs_warmup);
  } else if (name == "fedbuff") {
    s = std::make_unique<FedBuff>(eta, staleness, cfg.fedbuff_buffer_size);
  } else if (name == "afa_fedau") {
    s = std::make_unique<AfaFedAu>(eta, cfg.afa_local_lr, staleness, cfg.fedau_k_cut);
  } else {
    return InvalidArgumentError(fmt::format("unknown strategy '{}' (known: {})", name,
                                            fmt::join(StrategyNames(), ", ")));
  }
  return s;
}

}  // namespace murmur::server::strategy
