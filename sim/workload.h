// Workload: what the simulated clients learn — the data each client holds,
// its local training and the evaluation of a global model. The simulator
// drives a Workload without knowing whether it is a LibTorch model on
// Fashion-MNIST (fmnist_workload.h) or the torch-free regression task
// (regression_workload.h, for fast tests).
//
// Reproducibility contract: Train's result depends only on (global, client,
// steps, seed) and Evaluate's only on the model, never on `worker` (the
// index of the thread pool worker that calls it, which lets an
// implementation keep one trainer per worker).
//
// Threading: after Prepare(workers), Train and Evaluate may run at the same
// time on distinct `worker` values; each worker value is used by one thread
// at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur::sim {

struct TrainOutput {
  TensorList delta;  // trained - global
  double mean_loss = 0;
  uint64_t samples = 0;
};

struct EvalOutput {
  double accuracy = 0;  // NaN when the task has none (regression)
  double loss = 0;
};

class Workload {
 public:
  virtual ~Workload() = default;
  // One line for the output (task, data split, model size).
  virtual std::string Describe() const = 0;
  virtual uint32_t num_clients() const = 0;
  virtual uint64_t num_samples(uint32_t client) const = 0;
  // Each client's label distribution (sums to 1), or empty when the task has
  // no classes.
  virtual std::vector<std::vector<double>> LabelDistributions() const = 0;
  virtual TensorList InitialModel() const = 0;
  // Sets up per-worker state for `workers` workers.
  virtual Status Prepare(size_t workers) = 0;
  // `steps` local SGD steps of `client` from `global`, minibatches seeded by `seed`.
  virtual Result<TrainOutput> Train(size_t worker, const TensorList& global, uint32_t client,
                                    int steps, uint64_t seed) = 0;
  virtual Result<EvalOutput> Evaluate(size_t worker, const TensorList& model) = 0;
  // The local learning rate the clients use (eta_L / gamma), for the recipe.
  virtual double local_lr() const = 0;
  virtual int batch() const = 0;
  // The lowest loss any model reaches on the evaluation data, where the task
  // knows it (the regression's least-squares optimum); NaN otherwise.
  virtual double optimal_loss() const { return std::nan(""); }
};

}  // namespace murmur::sim
