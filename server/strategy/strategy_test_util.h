// Helpers for the strategy unit tests: a three-parameter model, updates on
// it, and one-call aggregation. Test-only; not thread-aware.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "server/strategy/strategy.h"
#include "server/strategy/strategy_factory.h"

namespace murmur::server::strategy::testing {

// The model: w (2 values) and b (1 value).
inline TensorList Model(float w0, float w1, float b) {
  return {{"w", {2}, {w0, w1}}, {"b", {1}, {b}}};
}

inline ClientUpdate Update(uint64_t client, float w0, float w1, float b, uint32_t k = 1,
                           double lr = 1.0, uint64_t staleness = 0, uint64_t num_samples = 1) {
  ClientUpdate u;
  u.client_id = client;
  u.delta = Model(w0, w1, b);
  u.local_steps = k;
  u.local_lr = lr;
  u.staleness = staleness;
  u.num_samples = num_samples;
  return u;
}

// Flattened values of a model: {w0, w1, b}.
inline std::vector<double> Values(const TensorList& t) {
  std::vector<double> out;
  for (const Tensor& x : t) out.insert(out.end(), x.data.begin(), x.data.end());
  return out;
}

#define EXPECT_MODEL_NEAR(model, expected, tol)                                   \
  do {                                                                            \
    const std::vector<double> got_ = ::murmur::server::strategy::testing::Values(model); \
    const std::vector<double> want_ = expected;                                   \
    ASSERT_EQ(got_.size(), want_.size());                                         \
    for (size_t k_ = 0; k_ < got_.size(); ++k_) {                                 \
      EXPECT_NEAR(got_[k_], want_[k_], tol) << "value " << k_;                    \
    }                                                                             \
  } while (0)

inline std::unique_ptr<Strategy> Make(StrategyConfig cfg) {
  Result<std::unique_ptr<Strategy>> s = MakeStrategy(cfg);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

inline std::unique_ptr<Strategy> Make(const std::string& name, double server_lr = 1.0) {
  StrategyConfig cfg;
  cfg.name = name;
  cfg.server_lr = server_lr;
  return Make(cfg);
}

// Drives one strategy over rounds 1, 2, ... keeping the model and the state,
// as the round engine will.
class Driver {
 public:
  Driver(std::unique_ptr<Strategy> s, TensorList x, std::vector<uint64_t> clients)
      : s_(std::move(s)), x_(std::move(x)), clients_(std::move(clients)) {}

  // Aggregates one round and keeps the result; returns the step.
  Result<Step> Round(const std::vector<ClientUpdate>& updates,
                     const std::unordered_map<uint64_t, double>* p = nullptr) {
    RoundInput in;
    in.round = ++round_;
    in.global = &x_;
    in.updates = updates;
    in.all_clients = clients_;
    in.known_participation_prob = p;
    Result<Step> step = s_->Aggregate(in, state_);
    if (step.ok()) {
      x_ = step->new_global;
      state_ = step->new_state;
    } else {
      --round_;
    }
    return step;
  }
  Step MustRound(const std::vector<ClientUpdate>& updates,
                 const std::unordered_map<uint64_t, double>* p = nullptr) {
    Result<Step> step = Round(updates, p);
    EXPECT_TRUE(step.ok()) << step.status().ToString();
    return step.ok() ? std::move(step).value() : Step{};
  }

  // Continues from a persisted model and state, as after a restart.
  void Restore(TensorList x, StrategyState state, uint64_t last_round) {
    x_ = std::move(x);
    state_ = std::move(state);
    round_ = last_round;
  }

  const TensorList& x() const { return x_; }
  const StrategyState& state() const { return state_; }
  std::vector<uint64_t>& clients() { return clients_; }
  uint64_t round() const { return round_; }

 private:
  std::unique_ptr<Strategy> s_;
  TensorList x_;
  std::vector<uint64_t> clients_;
  StrategyState state_;
  uint64_t round_ = 0;
};

}  // namespace murmur::server::strategy::testing
