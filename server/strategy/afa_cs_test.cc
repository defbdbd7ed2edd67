#include "server/strategy/afa_cs.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;
using testing::Values;

TEST(AfaCsStrategyTest, TableOfLatestStepNormalizedUpdates) {
  StrategyConfig cfg{.name = "afa_cs", .afa_local_lr = 0.1};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {1, 2});
  // R1: G_1 = -(-2,0,0)/(0.5*2) = (2,0,0); G = (1/M)(2,0,0) = (1,0,0); x -= 0.1 G.
  Step s = d.MustRound({Update(1, -2, 0, 0, 2, 0.5)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.9, 2, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5}));
  EXPECT_EQ(Values(*d.state().table.at(1).value), (std::vector<double>{2, 0, 0}));
  EXPECT_EQ(d.state().table.at(1).local_lr, 0.5);
  // R2: G_2 = (0,4,0); G = (1,2,0).
  s = d.MustRound({Update(2, 0, -1, 0, 1, 0.25)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.8, 1.8, 0.5}), 1e-6);
  // R3: worker 1 twice; the later arrival wins: table {1: (0,0,2), 2: (0,4,0)}.
  s = d.MustRound({Update(1, -2, 0, 0, 2, 0.5), Update(1, 0, 0, -1, 1, 0.5)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.8, 1.6, 0.4}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.0, 0.5}));
  EXPECT_EQ(Values(*d.state().table.at(1).value), (std::vector<double>{0, 0, 2}));
  // R4: nobody arrives; the table still steps.
  s = d.MustRound({});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.8, 1.4, 0.3}), 1e-6);
}

TEST(AfaCsStrategyTest, WarmUpPolicies) {
  StrategyConfig cfg{.name = "afa_cs", .afa_local_lr = 0.1};
  Driver all(Make(cfg), Model(1, 2, 0.5f), {1, 2, 3, 4});
  cfg.afa_cs_warmup = AfaCsWarmup::kSeen;
  Driver seen(Make(cfg), Model(1, 2, 0.5f), {1, 2, 3, 4});
  const std::vector<ClientUpdate> ups = {Update(1, -2, 0, 0, 2, 0.5)};  // G = (2,0,0)
  Step a = all.MustRound(ups);
  Step b = seen.MustRound(ups);
  EXPECT_MODEL_NEAR(a.new_global, (std::vector<double>{0.95, 2, 0.5}), 1e-6);  // D = 4
  EXPECT_MODEL_NEAR(b.new_global, (std::vector<double>{0.8, 2, 0.5}), 1e-6);   // D = 1
  EXPECT_EQ(a.weights, (std::vector<double>{0.25}));
  EXPECT_EQ(b.weights, (std::vector<double>{1.0}));
  EXPECT_EQ(*ParseAfaCsWarmup("seen"), AfaCsWarmup::kSeen);
  EXPECT_EQ(*ParseAfaCsWarmup("all"), AfaCsWarmup::kAllRegistered);
  EXPECT_FALSE(ParseAfaCsWarmup("some").ok());
}

TEST(AfaCsStrategyTest, PerEntryLocalLrByDefault) {
  Driver d(Make("afa_cs"), Model(1, 2, 0.5f), {1, 2});
  // eta_L_1 = 0.5 from the entry: x - (1/2) * 0.5 * (2,0,0) = x + (1/M) delta / K.
  Step s = d.MustRound({Update(1, -2, 0, 0, 2, 0.5)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.5, 2, 0.5}), 1e-6);
}

TEST(AfaCsStrategyTest, TablePersistsAndDepartedWorkersDrop) {
  StrategyConfig cfg{.name = "afa_cs", .afa_local_lr = 0.1};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {1, 2});
  d.MustRound({Update(1, -2, 0, 0, 2, 0.5)});
  d.MustRound({Update(2, 0, -1, 0, 1, 0.25)});
  Result<StrategyState> parsed = ParseState(*SerializeState(d.state()));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, d.state());
  // Worker 2 leaves; a fresh strategy object continues from the parsed state.
  std::unique_ptr<Strategy> again = Make(cfg);
  const TensorList x = d.x();
  const std::vector<uint64_t> clients = {1};
  RoundInput in{.round = 3, .global = &x, .updates = {}, .all_clients = clients};
  Result<Step> s = again->Aggregate(in, *parsed);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // Table {1: (2,0,0)}, M = 1: x - 0.1 * (2,0,0).
  EXPECT_MODEL_NEAR(s->new_global, (std::vector<double>{0.6, 1.8, 0.5}), 1e-6);
  EXPECT_EQ(s->new_state.table.size(), 1u);
}

}  // namespace
}  // namespace murmur::server::strategy
