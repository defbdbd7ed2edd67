#include "server/strategy/afa_fedau.h"

#include <gtest/gtest.h>

#include "server/strategy/fedau_estimator.h"
#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

TEST(AfaFedAuStrategyTest, EqualWeightsReduceToAfaCd) {
  Driver fa(Make("afa_fedau"), Model(1, 2, 0.5f), {1, 2});
  Driver cd(Make("afa_cd"), Model(1, 2, 0.5f), {1, 2});
  const std::vector<ClientUpdate> ups = {Update(1, -2, 0, 0, 2, 0.5),
                                         Update(2, 0, -4, 0, 4, 0.25)};
  Step a = fa.MustRound(ups);
  Step b = cd.MustRound(ups);
  EXPECT_MODEL_NEAR(a.new_global, (std::vector<double>{0.5, 1.5, 0.5}), 1e-6);
  EXPECT_EQ(testing::Values(a.new_global), testing::Values(b.new_global));
  EXPECT_EQ(a.weights, b.weights);
}

TEST(AfaFedAuStrategyTest, WeightsByOmegaNormalized) {
  StrategyConfig cfg{.name = "afa_fedau", .afa_local_lr = 0.1};
  std::unique_ptr<Strategy> s = Make(cfg);
  StrategyState state;
  state.strategy = "afa_fedau";
  state.fedau[1] = {0, 1, 1};  // omega 1
  state.fedau[2] = {0, 1, 3};  // omega 3
  const TensorList x = Model(1, 2, 0.5f);
  const std::vector<uint64_t> clients = {1, 2};
  // G_1 = (4,0,0), G_2 = (0,4,0) (delta -0.4, K=1, lr 0.1).
  const std::vector<ClientUpdate> ups = {Update(1, -0.4f, 0, 0, 1, 0.1),
                                         Update(2, 0, -0.4f, 0, 1, 0.1)};
  RoundInput in{.round = 1, .global = &x, .updates = ups, .all_clients = clients};
  Result<Step> step = s->Aggregate(in, state);
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  // G = (1/4)(4,0,0) + (3/4)(0,4,0) = (1,3,0); x - 0.1 * G.
  EXPECT_MODEL_NEAR(step->new_global, (std::vector<double>{0.9, 1.7, 0.5}), 1e-6);
  ASSERT_EQ(step->weights.size(), 2u);
  EXPECT_DOUBLE_EQ(step->weights[0], 0.25);
  EXPECT_DOUBLE_EQ(step->weights[1], 0.75);
  // Both participated: intervals of 1 recorded after the step.
  EXPECT_EQ(step->new_state.fedau.at(1), (FedAuCounter{0, 2, 2}));
  EXPECT_EQ(step->new_state.fedau.at(2), (FedAuCounter{0, 2, 4}));
}

TEST(AfaFedAuStrategyTest, EstimatesOverAsyncRounds) {
  StrategyConfig cfg{.name = "afa_fedau", .fedau_k_cut = 50};
  Driver d(Make(cfg), Model(0, 0, 0), {1, 2, 3});
  // Client 1 arrives every round, client 2 every third round, client 3 never.
  for (int t = 1; t <= 30; ++t) {
    std::vector<ClientUpdate> ups = {Update(1, 1, 0, 0, 1, 1)};
    if (t % 3 == 0) ups.push_back(Update(2, 0, 1, 0, 1, 1));
    d.MustRound(ups);
  }
  EXPECT_DOUBLE_EQ(FedAuWeight(d.state().fedau.at(1)), 1.0);
  EXPECT_DOUBLE_EQ(FedAuWeight(d.state().fedau.at(2)), 3.0);
  EXPECT_EQ(d.state().fedau.at(3), (FedAuCounter{30, 0, 0}));
  Step s = d.MustRound({Update(1, 1, 0, 0, 1, 1), Update(2, 0, 1, 0, 1, 1)});
  EXPECT_DOUBLE_EQ(s.weights[0], 0.25);
  EXPECT_DOUBLE_EQ(s.weights[1], 0.75);
}

TEST(AfaFedAuStrategyTest, StalenessDiscountMultipliesTheNumerator) {
  StrategyConfig cfg{.name = "afa_fedau", .afa_local_lr = 1.0,
                     .staleness = {StalenessKind::kInvSqrt}};
  Driver d(Make(cfg), Model(0, 0, 0), {1, 2});
  Step s = d.MustRound({Update(1, -1, 0, 0, 1, 1, 3), Update(2, 0, -1, 0, 1, 1, 0)});
  EXPECT_EQ(s.weights, (std::vector<double>{0.25, 0.5}));
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{-0.25, -0.5, 0}), 1e-7);
}

// Regression: 3 clients, m = 6; client 1 is eager and sends 5 of the 6
// updates, client 2 sends 1, client 3 none. Before pooling, client 1's
// updates each got its full omega and it took 5/6 of the round's weight
// (with every omega 1). Now its updates share omega_1 and the client as a
// whole gets omega_1 / (omega_1 + omega_2).
TEST(AfaFedAuStrategyTest, EagerClientUpdatesArePooledWithinARound) {
  StrategyConfig cfg{.name = "afa_fedau", .afa_local_lr = 1.0};
  std::unique_ptr<Strategy> s = Make(cfg);
  const TensorList x = Model(0, 0, 0);
  const std::vector<uint64_t> clients = {1, 2, 3};
  // G_i = -delta_i (K = 1, local_lr 1): client 1 pushes along w0, client 2 along w1.
  std::vector<ClientUpdate> ups;
  for (int i = 0; i < 5; ++i) ups.push_back(Update(1, -1, 0, 0, 1, 1));
  ups.push_back(Update(2, 0, -1, 0, 1, 1));
  ASSERT_EQ(ups.size(), 6u);

  auto run = [&](uint64_t omega1, uint64_t omega2) {
    StrategyState state;
    state.strategy = "afa_fedau";
    // FedAuCounter{M, intervals, sum}: omega = sum / intervals.
    state.fedau[1] = {0, 1, omega1};
    state.fedau[2] = {0, 1, omega2};
    RoundInput in{.round = 1, .global = &x, .updates = ups, .all_clients = clients};
    Result<Step> step = s->Aggregate(in, state);
    EXPECT_TRUE(step.ok()) << step.status().ToString();
    return step.ok() ? std::move(step).value() : Step{};
  };

  // Warm-up, every omega 1: each client gets half, not 5/6 and 1/6.
  Step even = run(1, 1);
  ASSERT_EQ(even.weights.size(), 6u);
  double client1 = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_DOUBLE_EQ(even.weights[i], 0.1) << i;
    client1 += even.weights[i];
  }
  EXPECT_NEAR(client1, 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(even.weights[5], 0.5);
  EXPECT_MODEL_NEAR(even.new_global, (std::vector<double>{-0.5, -0.5, 0}), 1e-7);

  // Client 2 rarely arrives (omega 3), client 1 always (omega 1): the eager
  // client gets omega-proportional weight 1/4 (was 5/8 without pooling).
  Step skewed = run(1, 3);
  client1 = 0;
  for (int i = 0; i < 5; ++i) client1 += skewed.weights[i];
  EXPECT_NEAR(client1, 0.25, 1e-15);
  EXPECT_DOUBLE_EQ(skewed.weights[5], 0.75);
  EXPECT_MODEL_NEAR(skewed.new_global, (std::vector<double>{-0.25, -0.75, 0}), 1e-7);

  // The estimator saw one participation of client 1, not five.
  EXPECT_EQ(skewed.new_state.fedau.at(1), (FedAuCounter{0, 2, 2}));
  EXPECT_EQ(skewed.new_state.fedau.at(2), (FedAuCounter{0, 2, 4}));
}

// Pooled updates keep their own staleness discounts: c_n splits omega_n
// first, then each update is discounted by its own s(tau).
TEST(AfaFedAuStrategyTest, PooledUpdatesKeepTheirOwnStalenessDiscount) {
  StrategyConfig cfg{.name = "afa_fedau", .afa_local_lr = 1.0,
                     .staleness = {StalenessKind::kInvSqrt}};
  Driver d(Make(cfg), Model(0, 0, 0), {1, 2});
  // Client 1: two updates, staleness 3 (s = 1/2) and 0 (s = 1); client 2: one, staleness 0.
  Step s = d.MustRound({Update(1, -1, 0, 0, 1, 1, 3), Update(1, -1, 0, 0, 1, 1, 0),
                        Update(2, 0, -1, 0, 1, 1, 0)});
  // W = 2; weights (1/2 * 1/2, 1/2 * 1, 1) / 2.
  EXPECT_EQ(s.weights, (std::vector<double>{0.125, 0.25, 0.5}));
}

}  // namespace
}  // namespace murmur::server::strategy
