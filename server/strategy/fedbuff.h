// FedBuff (Nguyen et al., AISTATS 2022): buffered asynchronous aggregation.
// The round engine buffers |B| arrivals; this applies them at once:
//
//   Delta = sum_{i in B} s(tau_i) * delta_i
//   x_{t+1} = x_t + eta_g * Delta / |B|
// (the paper's x -= eta_g * Delta / K with its deltas signed x_old - x_new;
// murmur's deltas are y - x_base). s(tau) defaults to 1/sqrt(1 + tau);
// constant, polynomial and hinge are configurable. weights[i] = s_i / |B|.
// A client may appear more than once in a buffer. No state.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/staleness.h"
#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class FedBuff final : public Strategy {
 public:
  // staleness: resolved and valid.
  FedBuff(double server_lr, StalenessConfig staleness)
      : server_lr_(server_lr), staleness_(staleness) {}
  std::string_view name() const override { return "fedbuff"; }
  StrategyNeeds needs() const override { return {}; }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  StalenessConfig staleness_;
};

}  // namespace murmur::server::strategy
