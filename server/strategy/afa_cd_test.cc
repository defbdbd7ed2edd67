#include "server/strategy/afa_cd.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

// a: delta (-2,0,0), K=2, lr=0.5 -> G_a = (2,0,0).
// b: delta (0,-4,0), K=4, lr=0.25 -> G_b = (0,4,0).
std::vector<ClientUpdate> TwoUpdates(uint64_t tau_a = 0, uint64_t tau_b = 0) {
  return {Update(1, -2, 0, 0, 2, 0.5, tau_a), Update(2, 0, -4, 0, 4, 0.25, tau_b)};
}

TEST(AfaCdStrategyTest, PerUpdateLocalLr) {
  Driver d(Make("afa_cd"), Model(1, 2, 0.5f), {});
  // x - eta * (1/2) * (0.5 * (2,0,0) + 0.25 * (0,4,0)) = x + mean(delta_i / K_i).
  Step s = d.MustRound(TwoUpdates());
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.5, 1.5, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5, 0.5}));
  EXPECT_TRUE(s.new_state.table.empty());
}

TEST(AfaCdStrategyTest, ConfiguredLocalLrAndServerLr) {
  StrategyConfig cfg{.name = "afa_cd", .server_lr = 2.0, .afa_local_lr = 0.1};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {});
  // G = (1,2,0); x - 2 * 0.1 * G.
  Step s = d.MustRound(TwoUpdates());
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.8, 1.6, 0.5}), 1e-6);
}

TEST(AfaCdStrategyTest, MoreLocalStepsGetNoExtraWeight) {
  StrategyConfig cfg{.name = "afa_cd", .afa_local_lr = 0.1};
  Driver d(Make(cfg), Model(0, 0, 0), {});
  // Same average gradient (1,1,0), one worker after 1 step, the other after 10.
  Step s = d.MustRound({Update(1, -0.1f, -0.1f, 0, 1, 0.1), Update(2, -1, -1, 0, 10, 0.1)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{-0.1, -0.1, 0}), 1e-7);
}

TEST(AfaCdStrategyTest, OptionalStalenessDiscount) {
  StrategyConfig cfg{.name = "afa_cd", .afa_local_lr = 0.1,
                     .staleness = {StalenessKind::kInvSqrt}};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {});
  // s_a = 1/sqrt(4) = 0.5, s_b = 1: G = (1/2)(0.5*(2,0,0) + (0,4,0)) = (0.5,2,0).
  Step s = d.MustRound(TwoUpdates(3, 0));
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.95, 1.8, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.25, 0.5}));

  cfg.staleness = {StalenessKind::kPolynomial, 1.0};
  Driver p(Make(cfg), Model(1, 2, 0.5f), {});
  s = p.MustRound(TwoUpdates(3, 0));  // s_a = 1/4: G = (0.25, 2, 0)
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.975, 1.8, 0.5}), 1e-6);

  // Without a configured discount staleness is ignored (the paper's rule).
  Driver none(Make("afa_cd"), Model(1, 2, 0.5f), {});
  s = none.MustRound(TwoUpdates(3, 7));
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{0.5, 1.5, 0.5}), 1e-6);
}

TEST(AfaCdStrategyTest, SameClientTwiceIsAllowed) {
  Driver d(Make("afa_cd"), Model(0, 0, 0), {});
  Step s = d.MustRound({Update(1, -2, 0, 0, 2, 0.5), Update(1, 0, -2, 0, 2, 0.5)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{-0.5, -0.5, 0}), 1e-7);
}

TEST(AfaCdStrategyTest, RejectsMissingLocalLr) {
  Driver d(Make("afa_cd"), Model(0, 0, 0), {});
  for (double lr : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    Result<Step> s = d.Round({Update(1, 1, 0, 0, 1, lr)});
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << lr;
    EXPECT_NE(s.status().message().find("local_lr"), std::string::npos);
  }
}

}  // namespace
}  // namespace murmur::server::strategy
