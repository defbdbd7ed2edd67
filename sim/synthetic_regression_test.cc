#include "sim/synthetic_regression.h"

#include <gtest/gtest.h>

namespace murmur::sim {
namespace {

TEST(SyntheticRegressionTest, LocalSgdLowersTheLoss) {
  Rng rng(1);
  RegressionProblem p = MakeRegressionProblem(8, rng);
  RegressionData d = MakeClientData(p, 500, 1.0, rng);
  TensorList params = ZerosLike(RegressionSpec(8));
  const double before = MeanSquaredError(params, d);
  RegressionDelta u = TrainLocalSgd(params, d, 200, 0.02, 16, rng);
  for (size_t t = 0; t < params.size(); ++t) {
    for (size_t j = 0; j < params[t].data.size(); ++j) params[t].data[j] += u.delta[t].data[j];
  }
  EXPECT_LT(MeanSquaredError(params, d), 0.1 * before);
  EXPECT_EQ(u.samples, 200u * 16u);
  EXPECT_GT(u.mean_loss, 0);
}

TEST(SyntheticRegressionTest, ClientsDifferWithHeterogeneity) {
  Rng rng(2);
  RegressionProblem p = MakeRegressionProblem(4, rng);
  RegressionData a = MakeClientData(p, 1000, 2.0, rng), b = MakeClientData(p, 1000, 2.0, rng);
  double mean_a = 0, mean_b = 0;
  for (size_t i = 0; i < 1000; ++i) {
    mean_a += a.x[i * 4];
    mean_b += b.x[i * 4];
  }
  EXPECT_GT(std::abs(mean_a - mean_b) / 1000, 0.05);
}

}  // namespace
}  // namespace murmur::sim
