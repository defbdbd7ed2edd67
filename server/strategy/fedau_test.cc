#include "server/strategy/fedau.h"

#include <gtest/gtest.h>

#include "server/strategy/fedau_estimator.h"
#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

TEST(FedAuStrategyTest, HandComputedRounds) {
  Driver d(Make("fedau"), Model(1, 2, 0.5f), {1, 2, 3});
  // Round 1: client 1 alone, omega 1: x += (1/3) * (3, 0, 0).
  Step s = d.MustRound({Update(1, 3, 0, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 2, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{1.0 / 3}));
  // Every registered client got a counter (q = 0 for the absent ones).
  ASSERT_EQ(d.state().fedau.size(), 3u);
  EXPECT_EQ(d.state().fedau.at(1), (FedAuCounter{0, 1, 1}));
  EXPECT_EQ(d.state().fedau.at(2), (FedAuCounter{1, 0, 0}));
  EXPECT_EQ(d.state().fedau.at(3), (FedAuCounter{1, 0, 0}));

  // Round 2: client 2, no interval yet, omega 1.
  s = d.MustRound({Update(2, 0, 3, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 3, 0.5}), 1e-6);
  EXPECT_EQ(d.state().fedau.at(2), (FedAuCounter{0, 1, 2}));  // interval 2

  // Round 3: all three; omegas 1 (intervals {1}), 2 ({2}), 1 (none).
  s = d.MustRound({Update(1, 3, 0, 0), Update(2, 0, 3, 0), Update(3, 0, 0, 3)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 5, 1.5}), 1e-6);
  ASSERT_EQ(s.weights.size(), 3u);
  EXPECT_DOUBLE_EQ(s.weights[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.weights[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.weights[2], 1.0 / 3);

  // Round 4: client 3 (intervals {3}): omega 3, weight 3/3.
  s = d.MustRound({Update(3, 0, 0, 3)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 5, 4.5}), 1e-6);
  EXPECT_DOUBLE_EQ(s.weights[0], 1.0);
  EXPECT_EQ(d.state().fedau.at(1), (FedAuCounter{1, 2, 3}));
  EXPECT_EQ(d.state().fedau.at(2), (FedAuCounter{1, 2, 3}));
  EXPECT_EQ(d.state().fedau.at(3), (FedAuCounter{0, 2, 4}));
}

TEST(FedAuStrategyTest, WeightInRoundTUsesOnlyEarlierRounds) {
  Driver d(Make("fedau"), Model(0, 0, 0), {1, 2});
  d.MustRound({});
  d.MustRound({});
  d.MustRound({});
  // Round 4: first participation. Counting round 4 would give interval 4;
  // the weight must still be the prior 1, so weight = 1/N.
  Step s = d.MustRound({Update(1, 2, 0, 0)});
  EXPECT_DOUBLE_EQ(s.weights[0], 0.5);
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{1, 0, 0}), 1e-6);
  EXPECT_DOUBLE_EQ(FedAuWeight(d.state().fedau.at(1)), 4.0);
  d.MustRound({});
  // Round 6: the weight is 4 (from rounds 1-5), not (4 + 2) / 2 = 3.
  s = d.MustRound({Update(1, 2, 0, 0)});
  EXPECT_DOUBLE_EQ(s.weights[0], 4.0 / 2);
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{5, 0, 0}), 1e-6);
  EXPECT_DOUBLE_EQ(FedAuWeight(d.state().fedau.at(1)), 3.0);
}

TEST(FedAuStrategyTest, KCutIsConfigurable) {
  StrategyConfig cfg{.name = "fedau", .fedau_k_cut = 0};  // infinity
  Driver inf(Make(cfg), Model(0, 0, 0), {1});
  cfg.fedau_k_cut = 50;
  Driver cut(Make(cfg), Model(0, 0, 0), {1});
  for (int t = 0; t < 120; ++t) {
    inf.MustRound({});
    cut.MustRound({});
  }
  inf.MustRound({Update(1, 1, 0, 0)});
  cut.MustRound({Update(1, 1, 0, 0)});
  EXPECT_DOUBLE_EQ(FedAuWeight(inf.state().fedau.at(1)), 121.0);
  EXPECT_DOUBLE_EQ(FedAuWeight(cut.state().fedau.at(1)), 121.0 / 3);
  Step s = cut.MustRound({Update(1, 1, 0, 0)});
  EXPECT_DOUBLE_EQ(s.weights[0], 121.0 / 3);
}

TEST(FedAuStrategyTest, NewAndDepartedClients) {
  Driver d(Make("fedau"), Model(0, 0, 0), {1, 2});
  d.MustRound({Update(1, 1, 0, 0)});
  d.clients() = {1, 3};  // 2 left, 3 joined
  Step s = d.MustRound({Update(3, 0, 2, 0)});
  EXPECT_DOUBLE_EQ(s.weights[0], 0.5);  // a newcomer starts at omega 1
  EXPECT_FALSE(d.state().fedau.contains(2));
  EXPECT_EQ(d.state().fedau.at(3), (FedAuCounter{0, 1, 1}));
  EXPECT_EQ(d.state().fedau.at(1), (FedAuCounter{1, 1, 1}));
}

TEST(FedAuStrategyTest, UnbiasedUnderHeterogeneousBernoulliParticipation) {
  // Two clients with p = 0.8 and p = 0.2 push fixed, opposite directions. The
  // FedAU-weighted mean step approaches the unweighted client mean (here 0),
  // which FedAvg over participants does not (it leans to the frequent client).
  StrategyConfig cfg{.name = "fedau", .server_lr = 1.0};
  Driver d(Make(cfg), Model(0, 0, 0), {1, 2});
  Rng rng(11);
  const int warmup = 2000, rounds = 20000;
  double first = 0;
  for (int t = 0; t < warmup + rounds; ++t) {
    std::vector<ClientUpdate> ups;
    if (rng.Bernoulli(0.8)) ups.push_back(Update(1, 1, 0, 0));
    if (rng.Bernoulli(0.2)) ups.push_back(Update(2, -1, 0, 0));
    d.MustRound(ups);
    if (t + 1 == warmup) first = d.x()[0].data[0];
  }
  const double mean_step = (d.x()[0].data[0] - first) / rounds;
  // Per round E[step] = (1/2)(0.8 * w1 - 0.2 * w2) with w1 ~ 1.25, w2 ~ 5: ~0.
  EXPECT_NEAR(mean_step, 0.0, 0.02);
}

}  // namespace
}  // namespace murmur::server::strategy
