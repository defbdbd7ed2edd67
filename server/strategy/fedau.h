// FedAU (Wang & Ji, ICLR 2024): FedAvg with online-estimated weights that
// undo unknown, uneven participation.
//
//   x_{t+1} = x_t + eta * (1/N) * sum_{n in S} omega_n^t * delta_n
// omega_n^t comes from client n's FedAU counter as it stood before round t
// (fedau_estimator.h); after the step every registered client's counter
// advances (q = 1 for the participants of this round, 0 for everyone else),
// so the state holds one FedAuCounter per registered client. N counts all
// registered clients. One update per client per round.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include <cstdint>

#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class FedAu final : public Strategy {
 public:
  // k_cut: the interval cut-off K (0: infinity).
  FedAu(double server_lr, uint64_t k_cut) : server_lr_(server_lr), k_cut_(k_cut) {}
  std::string_view name() const override { return "fedau"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .one_update_per_client = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  uint64_t k_cut_;
};

}  // namespace murmur::server::strategy
