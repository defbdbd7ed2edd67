// RegressionWorkload: the torch-free synthetic linear-regression task
// (synthetic_regression.h) as a simulator Workload: non-IID clients with
// their own feature shift and label bias, minibatch SGD locally, the global
// model evaluated by its mean squared error on every client's data pooled.
// Fast enough for unit tests of the simulator with hundreds of clients.
//
// Threading: see Workload; it keeps no per-worker state.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/synthetic_regression.h"
#include "sim/workload.h"

namespace murmur::sim {

struct RegressionWorkloadOptions {
  uint32_t clients = 20;
  int dim = 8;
  size_t samples_per_client = 64;
  double heterogeneity = 1.0;
  double local_lr = 0.02;
  int batch = 8;
  uint64_t seed = 1;
};

class RegressionWorkload final : public Workload {
 public:
  explicit RegressionWorkload(const RegressionWorkloadOptions& options);

  std::string Describe() const override;
  uint32_t num_clients() const override { return options_.clients; }
  uint64_t num_samples(uint32_t client) const override { return data_[client].size(); }
  std::vector<std::vector<double>> LabelDistributions() const override { return {}; }
  TensorList InitialModel() const override;
  Status Prepare(size_t) override { return Status::Ok(); }
  Result<TrainOutput> Train(size_t worker, const TensorList& global, uint32_t client, int steps,
                            uint64_t seed) override;
  Result<EvalOutput> Evaluate(size_t worker, const TensorList& model) override;
  double local_lr() const override { return options_.local_lr; }
  int batch() const override { return options_.batch; }
  double optimal_loss() const override { return optimal_loss_; }

 private:
  RegressionWorkloadOptions options_;
  RegressionProblem problem_;
  std::vector<RegressionData> data_;
  RegressionData pooled_;
  double optimal_loss_ = 0;  // MSE of pooled_'s least-squares model
};

}  // namespace murmur::sim
