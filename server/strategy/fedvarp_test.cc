#include "server/strategy/fedvarp.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;
using testing::Values;

TEST(FedVarpStrategyTest, HandComputedRounds) {
  Driver d(Make("fedvarp"), Model(1, 2, 0.5f), {1, 2});
  // R1: y = 0. v = 0 + (2,0,0) - 0.
  Step s = d.MustRound({Update(1, 2, 0, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 2, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{1.0}));
  // R2: v = (1/2)((2,0,0) + 0) + ((0,4,0) - 0) = (1,4,0).
  s = d.MustRound({Update(2, 0, 4, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{4, 6, 0.5}), 1e-6);
  // R3: v = (1/2)((2,0,0) + (0,4,0)) + ((4,0,2) - (2,0,0)) = (3,2,2).
  s = d.MustRound({Update(1, 4, 0, 2)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{7, 8, 2.5}), 1e-6);
  EXPECT_EQ(Values(*d.state().table.at(1).value), (std::vector<double>{4, 0, 2}));
  // R4: both. v = (1/2)((4,0,2) + (0,4,0))
  //            + (1/2)(((0,0,0) - (4,0,2)) + ((2,2,2) - (0,4,0))) = (1,1,1).
  s = d.MustRound({Update(1, 0, 0, 0), Update(2, 2, 2, 2)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{8, 9, 3.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5, 0.5}));
  // R5: empty round: no step (see NoStepInARoundWithoutParticipants).
  s = d.MustRound({});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{8, 9, 3.5}), 1e-6);
  EXPECT_EQ(Values(*d.state().table.at(1).value), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(Values(*d.state().table.at(2).value), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(d.state().table.at(2).round, 4u);
}

// Regression: a round with no participants used to step by the table mean;
// the reference takes no step. The model and the table stay as they were,
// bit for bit.
TEST(FedVarpStrategyTest, NoStepInARoundWithoutParticipants) {
  Driver d(Make("fedvarp"), Model(1, 2, 0.5f), {1, 2});
  d.MustRound({Update(1, 2, 0, 0), Update(2, 0, 4, 1)});
  const TensorList before = d.x();
  const StrategyState table_before = d.state();
  ASSERT_EQ(table_before.table.size(), 2u);
  Step s = d.MustRound({});
  EXPECT_TRUE(s.weights.empty());
  EXPECT_EQ(Values(s.new_global), Values(before));
  ASSERT_EQ(s.new_state.table.size(), 2u);
  for (uint64_t id : {1u, 2u}) {
    const TableEntry& now = s.new_state.table.at(id);
    const TableEntry& was = table_before.table.at(id);
    EXPECT_EQ(Values(*now.value), Values(*was.value)) << id;
    EXPECT_EQ(now.round, was.round) << id;
  }
  // The next round with a participant steps from the unchanged model (2,4,1)
  // and table: v = (1/2)((2,0,0) + (0,4,1)) + ((4,0,0) - (2,0,0)) = (3,2,0.5).
  EXPECT_EQ(Values(before), (std::vector<double>{2, 4, 1}));
  s = d.MustRound({Update(1, 4, 0, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{5, 6, 1.5}), 1e-6);
}

TEST(FedVarpStrategyTest, TablePersistsThroughSerializedState) {
  Driver d(Make("fedvarp"), Model(1, 2, 0.5f), {1, 2});
  d.MustRound({Update(1, 2, 0, 0)});
  d.MustRound({Update(2, 0, 4, 0)});
  Result<StrategyState> parsed = ParseState(*SerializeState(d.state()));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::unique_ptr<Strategy> again = Make("fedvarp");
  const TensorList x = d.x();
  const std::vector<ClientUpdate> ups = {Update(1, 4, 0, 2)};
  RoundInput in{.round = 3, .global = &x, .updates = ups, .all_clients = d.clients()};
  Result<Step> s = again->Aggregate(in, *parsed);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_MODEL_NEAR(s->new_global, (std::vector<double>{7, 8, 2.5}), 1e-6);
}

}  // namespace
}  // namespace murmur::server::strategy
