#include "server/strategy/staleness.h"

#include <gtest/gtest.h>

#include <cmath>

namespace murmur::server::strategy {
namespace {

TEST(StalenessStrategyTest, Values) {
  EXPECT_DOUBLE_EQ(StalenessWeight({StalenessKind::kNone}, 9), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight({StalenessKind::kInvSqrt}, 0), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight({StalenessKind::kInvSqrt}, 3), 0.5);
  EXPECT_DOUBLE_EQ(StalenessWeight({StalenessKind::kPolynomial, 1.0}, 3), 0.25);
  EXPECT_DOUBLE_EQ(StalenessWeight({StalenessKind::kPolynomial, 2.0}, 1), 0.25);
  const StalenessConfig hinge{StalenessKind::kHinge, 0.5, 2.0};
  EXPECT_DOUBLE_EQ(StalenessWeight(hinge, 2), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight(hinge, 6), 1.0 / 3.0);  // 1 / (0.5 * 4 + 1)
}

TEST(StalenessStrategyTest, ParseResolveValidate) {
  EXPECT_EQ(*ParseStalenessKind("inv_sqrt"), StalenessKind::kInvSqrt);
  EXPECT_EQ(*ParseStalenessKind("constant"), StalenessKind::kNone);
  EXPECT_EQ(*ParseStalenessKind("polynomial"), StalenessKind::kPolynomial);
  EXPECT_FALSE(ParseStalenessKind("sqrt").ok());
  for (StalenessKind k : {StalenessKind::kDefault, StalenessKind::kNone, StalenessKind::kInvSqrt,
                          StalenessKind::kPolynomial, StalenessKind::kHinge}) {
    EXPECT_EQ(*ParseStalenessKind(StalenessKindName(k)), k);
  }
  EXPECT_EQ(Resolve({}, StalenessKind::kInvSqrt).kind, StalenessKind::kInvSqrt);
  EXPECT_EQ(Resolve({StalenessKind::kNone}, StalenessKind::kInvSqrt).kind, StalenessKind::kNone);
  EXPECT_FALSE(Validate({StalenessKind::kPolynomial, 0.0}).ok());
  EXPECT_FALSE(Validate({StalenessKind::kPolynomial, NAN}).ok());
  EXPECT_FALSE(Validate({StalenessKind::kHinge, 1.0, -1.0}).ok());
  EXPECT_TRUE(Validate({StalenessKind::kPolynomial, 0.5}).ok());
}

}  // namespace
}  // namespace murmur::server::strategy
