// A federated linear-regression task on synthetic, non-IID client data.
//
// The simulator's light workload (murmur-grpc-demo): unlike the
// linear-attention model it needs no LibTorch; small and fast, yet a real
// optimization problem, so a federated run through the coordinator shows the
// global loss falling. Each client's features are drawn around its own mean (covariate
// shift) and its labels carry its own bias (concept shift), so the clients
// disagree and aggregation matters.
//
// Pure functions over values; the Rng passed in is the only state.
#pragma once

#include <cstdint>
#include <vector>

#include "common/codec/tensor.h"
#include "common/rng.h"

namespace murmur::sim {

struct RegressionData {
  int dim = 0;
  std::vector<float> x;  // n x dim, row-major
  std::vector<float> y;  // n
  size_t size() const { return y.size(); }
};

struct RegressionProblem {
  int dim = 16;
  std::vector<float> w_true;
  float b_true = 0;
};

RegressionProblem MakeRegressionProblem(int dim, Rng& rng);
// `heterogeneity` scales the client's feature shift and label bias.
RegressionData MakeClientData(const RegressionProblem& p, size_t n, double heterogeneity, Rng& rng);

// {"linear.weight": [1, dim], "linear.bias": [1]}.
ModelSpec RegressionSpec(int dim);

double MeanSquaredError(const TensorList& params, const RegressionData& data);

// The least-squares model of `data` (normal equations with the bias as a
// column, solved in double precision): the lowest MeanSquaredError any model
// reaches on it, the reference a federated run's loss converges to when it
// is unbiased (its excess loss is the rest).
TensorList LeastSquaresSolution(const RegressionData& data);

// The result of local training (encoded into an api::UpdateToPush).
struct RegressionDelta {
  TensorList delta;  // trained - global
  double mean_loss = 0;
  uint64_t samples = 0;
};

// K steps of minibatch SGD on 0.5 * squared error from `global`.
RegressionDelta TrainLocalSgd(const TensorList& global, const RegressionData& data,
                              int local_steps, double lr, int batch_size, Rng& rng);

}  // namespace murmur::sim
