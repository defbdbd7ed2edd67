// The FedAvg family: the synchronous baselines of the FedAU paper.
//
//   fedavg_participants  x + eta * sum_{i in S} w_i delta_i, w_i = 1/|S|
//                        (or n_i / sum_{j in S} n_j when sample-weighted)
//   fedavg_all           x + eta * (1/N) * sum_{i in S} delta_i
//   fedavg_known_p       x + eta * (1/N) * sum_{i in S} delta_i / p_i
// S: the updates of this round; N: all registered clients; p_i: client i's
// known participation probability (RoundInput::known_participation_prob,
// required for every participant, in (0, 1]). An empty round leaves x as is.
// None of them keeps state beyond the shared bookkeeping.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class FedAvgParticipants final : public Strategy {
 public:
  FedAvgParticipants(double server_lr, bool sample_weighted)
      : server_lr_(server_lr), sample_weighted_(sample_weighted) {}
  std::string_view name() const override { return "fedavg_participants"; }
  StrategyNeeds needs() const override { return {}; }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  bool sample_weighted_;
};

class FedAvgAll final : public Strategy {
 public:
  explicit FedAvgAll(double server_lr) : server_lr_(server_lr) {}
  std::string_view name() const override { return "fedavg_all"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .one_update_per_client = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
};

class FedAvgKnownP final : public Strategy {
 public:
  explicit FedAvgKnownP(double server_lr) : server_lr_(server_lr) {}
  std::string_view name() const override { return "fedavg_known_p"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .one_update_per_client = true, .known_participation_prob = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
};

}  // namespace murmur::server::strategy
