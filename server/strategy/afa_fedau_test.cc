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

}  // namespace
}  // namespace murmur::server::strategy
