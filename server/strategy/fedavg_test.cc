#include "server/strategy/fedavg.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

TEST(FedAvgStrategyTest, ParticipantsMean) {
  Driver d(Make("fedavg_participants", 0.5), Model(1, 2, 0.5f), {1, 2, 3});
  Step s = d.MustRound({Update(1, 1, 0, 0), Update(3, 3, 2, -1)});
  // mean = (2, 1, -0.5); x + 0.5 * mean.
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 2.5, 0.25}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(s.new_state.strategy, "fedavg_participants");
  EXPECT_EQ(s.new_state.steps, 1u);
  EXPECT_EQ(s.new_state.last_round, 1u);
  EXPECT_TRUE(s.new_state.table.empty());
  EXPECT_TRUE(s.new_state.fedau.empty());
}

TEST(FedAvgStrategyTest, ParticipantsSampleWeighted) {
  StrategyConfig cfg{.name = "fedavg_participants", .sample_weighted = true};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {});
  Step s = d.MustRound({Update(1, 1, 0, 0, 1, 1, 0, 1), Update(3, 3, 2, -1, 1, 1, 0, 3)});
  // weights 1/4, 3/4: direction (2.5, 1.5, -0.75).
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{3.5, 3.5, -0.25}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.25, 0.75}));
  // No samples at all: rejected with a reason.
  Result<Step> bad = d.Round({Update(1, 1, 0, 0, 1, 1, 0, 0)});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("num_samples"), std::string::npos);
}

TEST(FedAvgStrategyTest, AllClientsDividesByN) {
  Driver d(Make("fedavg_all"), Model(1, 2, 0.5f), {1, 2, 3, 4});
  Step s = d.MustRound({Update(1, 1, 0, 0), Update(3, 3, 2, -1)});
  // (1/4) * (4, 2, -1).
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 2.5, 0.25}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.25, 0.25}));
}

TEST(FedAvgStrategyTest, KnownPDividesByNTimesP) {
  Driver d(Make("fedavg_known_p"), Model(1, 2, 0.5f), {1, 2, 3, 4});
  const std::unordered_map<uint64_t, double> p = {{1, 0.5}, {2, 0.1}, {3, 0.25}};
  Step s = d.MustRound({Update(1, 1, 0, 0), Update(3, 3, 2, -1)}, &p);
  // weights 1/(4*0.5) = 0.5 and 1/(4*0.25) = 1: direction (3.5, 2, -1).
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{4.5, 4, -0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5, 1.0}));
}

TEST(FedAvgStrategyTest, KnownPRejectsMissingOrBadProbabilities) {
  Driver d(Make("fedavg_known_p"), Model(1, 2, 0.5f), {1, 2, 3, 4});
  Result<Step> none = d.Round({Update(1, 1, 0, 0)});
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  const std::unordered_map<uint64_t, double> partial = {{1, 0.5}};
  Result<Step> missing = d.Round({Update(1, 1, 0, 0), Update(4, 1, 0, 0)}, &partial);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("client 4"), std::string::npos);
  for (double bad : {0.0, -0.1, 1.5, std::nan("")}) {
    const std::unordered_map<uint64_t, double> p = {{1, bad}};
    EXPECT_FALSE(d.Round({Update(1, 1, 0, 0)}, &p).ok()) << bad;
  }
  // An empty round needs no probabilities.
  EXPECT_TRUE(d.Round({}).ok());
}

TEST(FedAvgStrategyTest, EmptyRoundKeepsTheModel) {
  for (const char* name : {"fedavg_participants", "fedavg_all", "fedavg_known_p"}) {
    SCOPED_TRACE(name);
    Driver d(Make(name), Model(1, 2, 0.5f), {1, 2});
    Step s = d.MustRound({});
    EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{1, 2, 0.5}), 0);
    EXPECT_TRUE(s.weights.empty());
  }
}

}  // namespace
}  // namespace murmur::server::strategy
