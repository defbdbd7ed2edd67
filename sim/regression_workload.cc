#include "sim/regression_workload.h"

#include <cmath>
#include <limits>

namespace murmur::sim {

RegressionWorkload::RegressionWorkload(const RegressionWorkloadOptions& options)
    : options_(options) {
  Rng rng(options.seed);
  Rng prob_rng = rng.Fork(1);
  problem_ = MakeRegressionProblem(options.dim, prob_rng);
  pooled_.dim = options.dim;
  for (uint32_t c = 0; c < options.clients; ++c) {
    Rng r = rng.Fork(100 + c);
    data_.push_back(MakeClientData(problem_, options.samples_per_client, options.heterogeneity, r));
    pooled_.x.insert(pooled_.x.end(), data_.back().x.begin(), data_.back().x.end());
    pooled_.y.insert(pooled_.y.end(), data_.back().y.begin(), data_.back().y.end());
  }
  optimal_loss_ = MeanSquaredError(LeastSquaresSolution(pooled_), pooled_);
}

std::string RegressionWorkload::Describe() const {
  return "synthetic linear regression, " + std::to_string(options_.clients) + " clients x " +
         std::to_string(options_.samples_per_client) + " samples, dim " +
         std::to_string(options_.dim);
}

TensorList RegressionWorkload::InitialModel() const {
  return ZerosLike(RegressionSpec(options_.dim));
}

Result<TrainOutput> RegressionWorkload::Train(size_t, const TensorList& global, uint32_t client,
                                              int steps, uint64_t seed) {
  if (client >= data_.size()) return InvalidArgumentError("no such client");
  Rng rng(seed);
  RegressionDelta d =
      TrainLocalSgd(global, data_[client], steps, options_.local_lr, options_.batch, rng);
  TrainOutput out;
  out.delta = std::move(d.delta);
  out.mean_loss = d.mean_loss;
  out.samples = d.samples;
  return out;
}

Result<EvalOutput> RegressionWorkload::Evaluate(size_t, const TensorList& model) {
  EvalOutput e;
  e.accuracy = std::numeric_limits<double>::quiet_NaN();
  e.loss = MeanSquaredError(model, pooled_);
  return e;
}

}  // namespace murmur::sim
