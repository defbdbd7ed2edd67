// FedBuff (Nguyen et al., AISTATS 2022): buffered asynchronous aggregation.
// The round engine buffers |B| arrivals; this applies them at once:
//
//   Delta = sum_{i in B} s(tau_i) * delta_i
//   x_{t+1} = x_t + eta_g * Delta / D,   D = max(K, |B|)  (K = 0: D = |B|)
// (the paper's x -= eta_g * Delta / K with its deltas signed x_old - x_new;
// murmur's deltas are y - x_base). K is the configured buffer size: a
// partial buffer closed at a deadline (|B| < K) still divides by K, as in
// the paper, so a round with few arrivals takes a proportionally smaller
// step. A buffer larger than K (the engine never closes one) divides by |B|
// so the step stays an average. K = 0 (not configured) divides by |B|.
// s(tau) defaults to 1/sqrt(1 + tau); constant, polynomial and hinge are
// configurable. weights[i] = s_i / D. A client may appear more than once in
// a buffer. No state.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include <cstdint>

#include "server/strategy/staleness.h"
#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class FedBuff final : public Strategy {
 public:
  // staleness: resolved and valid; buffer_size: K (0: |B|).
  FedBuff(double server_lr, StalenessConfig staleness, uint32_t buffer_size = 0)
      : server_lr_(server_lr), staleness_(staleness), buffer_size_(buffer_size) {}
  std::string_view name() const override { return "fedbuff"; }
  StrategyNeeds needs() const override { return {}; }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  StalenessConfig staleness_;
  uint32_t buffer_size_;
};

}  // namespace murmur::server::strategy
