// FedVARP (Jhunjhunwala et al., UAI 2022): SAGA-style variance reduction for
// partial participation, with the latest delta of every client as control
// variate.
//
//   v = (1/N) * sum_{j registered} y_j + (1/|S|) * sum_{i in S} (delta_i - y_i)
//   x_{t+1} = x_t + eta * v;   then y_i <- delta_i for i in S
// y_j is the persisted table as it stood before the round (0 for a client
// never seen). A round with no participants (S empty) takes no step, as in
// the reference: x_{t+1} = x_t and the table keeps its rows (stepping by the
// table mean would move the model with nobody reporting). Entries of clients
// no longer registered are dropped, in every round. One update per client
// per round.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class FedVarp final : public Strategy {
 public:
  explicit FedVarp(double server_lr) : server_lr_(server_lr) {}
  std::string_view name() const override { return "fedvarp"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .one_update_per_client = true, .per_client_tables = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
};

}  // namespace murmur::server::strategy
