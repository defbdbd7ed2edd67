#include "server/strategy/mifa.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;
using testing::Values;

TEST(MifaStrategyTest, AveragesTheLatestUpdateOfEveryClient) {
  Driver d(Make("mifa"), Model(1, 2, 0.5f), {1, 2, 3});
  // Round 1: table {1: (3,0,0)}; mean over N = 3 (unseen clients count 0).
  Step s = d.MustRound({Update(1, 3, 0, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 2, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{1.0 / 3}));
  // Round 2: table {1: (3,0,0), 2: (0,3,0)}.
  s = d.MustRound({Update(2, 0, 3, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 3, 0.5}), 1e-6);
  // Round 3: client 1 overwrites its entry: {1: (0,0,3), 2: (0,3,0)}.
  s = d.MustRound({Update(1, 0, 0, 3)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 4, 1.5}), 1e-6);
  ASSERT_EQ(d.state().table.size(), 2u);
  EXPECT_EQ(Values(*d.state().table.at(1).value), (std::vector<double>{0, 0, 3}));
  EXPECT_EQ(d.state().table.at(1).round, 3u);
  EXPECT_EQ(Values(*d.state().table.at(2).value), (std::vector<double>{0, 3, 0}));
  EXPECT_EQ(d.state().table.at(2).round, 2u);
  // Round 4, nobody reports: the remembered updates still step.
  s = d.MustRound({});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 5, 2.5}), 1e-6);
  // Client 2 leaves: its entry is dropped and N = 2.
  d.clients() = {1, 3};
  s = d.MustRound({});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3, 5, 4}), 1e-6);
  EXPECT_FALSE(d.state().table.contains(2));
}

TEST(MifaStrategyTest, TablePersistsThroughSerializedState) {
  Driver d(Make("mifa"), Model(1, 2, 0.5f), {1, 2, 3});
  d.MustRound({Update(1, 3, 0, 0)});
  d.MustRound({Update(2, 0, 3, 0)});
  // Persist, parse, and continue in a fresh strategy object.
  Result<std::string> bytes = SerializeState(d.state());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<StrategyState> parsed = ParseState(*bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, d.state());
  std::unique_ptr<Strategy> again = Make("mifa");
  const TensorList x = d.x();
  const std::vector<ClientUpdate> ups = {Update(3, 0, 0, 3)};
  RoundInput in{.round = 3, .global = &x, .updates = ups, .all_clients = d.clients()};
  Result<Step> s = again->Aggregate(in, *parsed);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // Table {1: (3,0,0), 2: (0,3,0), 3: (0,0,3)}: mean (1,1,1).
  EXPECT_MODEL_NEAR(s->new_global, (std::vector<double>{4, 4, 1.5}), 1e-6);
  EXPECT_EQ(s->new_state.table.size(), 3u);
}

TEST(MifaStrategyTest, RejectsTwoUpdatesFromOneClient) {
  Driver d(Make("mifa"), Model(0, 0, 0), {1, 2});
  Result<Step> s = d.Round({Update(1, 1, 0, 0), Update(1, 2, 0, 0)});
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("more than one update"), std::string::npos);
}

}  // namespace
}  // namespace murmur::server::strategy
