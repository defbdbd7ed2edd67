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

// The least-squares model is the pooled data's minimum: every model nearby,
// the true one and a run of local SGD from it all have a higher loss.
TEST(SyntheticRegressionTest, LeastSquaresSolutionIsTheMinimum) {
  Rng rng(5);
  const RegressionProblem p = MakeRegressionProblem(6, rng);
  RegressionData pooled;
  pooled.dim = 6;
  for (int c = 0; c < 10; ++c) {
    const RegressionData d = MakeClientData(p, 40, 1.0, rng);
    pooled.x.insert(pooled.x.end(), d.x.begin(), d.x.end());
    pooled.y.insert(pooled.y.end(), d.y.begin(), d.y.end());
  }
  const TensorList best = LeastSquaresSolution(pooled);
  const double optimum = MeanSquaredError(best, pooled);
  TensorList truth = ZerosLike(RegressionSpec(6));
  truth[0].data = p.w_true;
  truth[1].data[0] = p.b_true;
  EXPECT_LT(optimum, MeanSquaredError(truth, pooled));
  for (int j = 0; j < 7; ++j) {
    for (float step : {-0.01f, 0.01f}) {
      TensorList nudged = best;
      (j < 6 ? nudged[0].data[j] : nudged[1].data[0]) += step;
      EXPECT_GT(MeanSquaredError(nudged, pooled), optimum) << "parameter " << j;
    }
  }
  RegressionDelta d = TrainLocalSgd(best, pooled, 20, 0.02, 8, rng);
  TensorList after = best;
  for (size_t t = 0; t < after.size(); ++t) {
    for (size_t i = 0; i < after[t].data.size(); ++i) after[t].data[i] += d.delta[t].data[i];
  }
  EXPECT_GE(MeanSquaredError(after, pooled), optimum);
}

}  // namespace
}  // namespace murmur::sim
