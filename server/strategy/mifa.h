// MIFA (Gu et al., NeurIPS 2021): remember every client's latest update and
// average over all of them, so absent clients still count with their last
// known direction.
//
//   y_i <- delta_i for every i in S          (the persisted table, O(N*d))
//   x_{t+1} = x_t + eta * (1/N) * sum_{n registered} y_n
// A client never seen yet has no entry and contributes 0 (the paper starts
// from a round in which everyone reports; murmur does not assume one, so the
// average is damped by the unseen fraction during warm-up). Entries of
// clients no longer registered are dropped. An empty round still steps with
// the remembered updates, as in the paper. One update per client per round.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class Mifa final : public Strategy {
 public:
  explicit Mifa(double server_lr) : server_lr_(server_lr) {}
  std::string_view name() const override { return "mifa"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .one_update_per_client = true, .per_client_tables = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
};

}  // namespace murmur::server::strategy
