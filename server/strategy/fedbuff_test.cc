#include "server/strategy/fedbuff.h"

#include <gtest/gtest.h>

#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

std::vector<ClientUpdate> Buffer() {
  return {Update(1, 2, 0, 0, 1, 1, /*staleness=*/0), Update(2, 0, 4, 0, 1, 1, /*staleness=*/3)};
}

TEST(FedBuffStrategyTest, DefaultDiscountIsInverseSqrt) {
  Driver d(Make("fedbuff"), Model(1, 2, 0.5f), {});
  // Delta = 1 * (2,0,0) + 0.5 * (0,4,0); x + Delta / 2.
  Step s = d.MustRound(Buffer());
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{2, 3, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.5, 0.25}));
}

TEST(FedBuffStrategyTest, ConfigurableDiscountAndServerLr) {
  StrategyConfig cfg{.name = "fedbuff", .staleness = {StalenessKind::kNone}};
  Driver c(Make(cfg), Model(1, 2, 0.5f), {});
  EXPECT_MODEL_NEAR(c.MustRound(Buffer()).new_global, (std::vector<double>{2, 4, 0.5}), 1e-6);
  cfg.staleness = {StalenessKind::kPolynomial, 1.0};
  cfg.server_lr = 2.0;
  Driver p(Make(cfg), Model(1, 2, 0.5f), {});
  // Delta = (2,0,0) + 0.25 * (0,4,0) = (2,1,0); x + 2 * Delta / 2.
  EXPECT_MODEL_NEAR(p.MustRound(Buffer()).new_global, (std::vector<double>{3, 3, 0.5}), 1e-6);
}

TEST(FedBuffStrategyTest, SameClientTwiceInABuffer) {
  Driver d(Make("fedbuff"), Model(0, 0, 0), {});
  Step s = d.MustRound({Update(1, 2, 0, 0), Update(1, 0, 2, 0)});
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{1, 1, 0}), 1e-7);
}

// Regression: a partial buffer closed at a deadline divided by |B|; the paper
// divides by the buffer size K. With K = 4 and two arrivals the step is half
// the average of the two.
TEST(FedBuffStrategyTest, PartialBufferDividesByTheConfiguredSize) {
  StrategyConfig cfg{.name = "fedbuff", .staleness = {StalenessKind::kNone},
                     .fedbuff_buffer_size = 4};
  Driver d(Make(cfg), Model(1, 2, 0.5f), {});
  // Delta = (2,0,0) + (0,4,0); x + Delta / 4.
  Step s = d.MustRound(Buffer());
  EXPECT_MODEL_NEAR(s.new_global, (std::vector<double>{1.5, 3, 0.5}), 1e-6);
  EXPECT_EQ(s.weights, (std::vector<double>{0.25, 0.25}));
  // A full buffer of K = 2 is the plain average; K = 0 divides by |B|.
  cfg.fedbuff_buffer_size = 2;
  Driver full(Make(cfg), Model(1, 2, 0.5f), {});
  EXPECT_EQ(full.MustRound(Buffer()).weights, (std::vector<double>{0.5, 0.5}));
  cfg.fedbuff_buffer_size = 0;
  Driver unset(Make(cfg), Model(1, 2, 0.5f), {});
  EXPECT_EQ(unset.MustRound(Buffer()).weights, (std::vector<double>{0.5, 0.5}));
  // Never more than an average: a buffer larger than K divides by |B|.
  cfg.fedbuff_buffer_size = 1;
  Driver over(Make(cfg), Model(1, 2, 0.5f), {});
  EXPECT_EQ(over.MustRound(Buffer()).weights, (std::vector<double>{0.5, 0.5}));
}

}  // namespace
}  // namespace murmur::server::strategy
