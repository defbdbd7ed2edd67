// FashionMnistWorkload: murmur's linear-attention classifier on
// Fashion-MNIST as a simulator Workload — the same LocalTrainer and model as
// murmur-demo and the real clients. The training set is split across the
// clients (iid, Dirichlet(alpha) label skew, or shards); the global model
// is evaluated on the first eval_samples test images (0: all 10,000).
// One LocalTrainer per worker; each Train resets the trainer's state from
// the global model, so a result does not depend on which worker ran it.
//
// Threading: see Workload.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/data/image_dataset.h"
#include "common/data/partition.h"
#include "ml/examples.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"
#include "sim/experiment.h"
#include "sim/workload.h"

namespace murmur::sim {

class FashionMnistWorkload final : public Workload {
 public:
  // Loads the data and splits it for `seed` (the model is initialised from it too).
  static Result<std::unique_ptr<FashionMnistWorkload>> Create(const WorkloadConfig& config,
                                                              uint64_t seed);

  std::string Describe() const override;
  uint32_t num_clients() const override { return static_cast<uint32_t>(shards_.size()); }
  uint64_t num_samples(uint32_t client) const override { return shards_[client].size(); }
  std::vector<std::vector<double>> LabelDistributions() const override { return label_dist_; }
  TensorList InitialModel() const override { return initial_; }
  Status Prepare(size_t workers) override;
  Result<TrainOutput> Train(size_t worker, const TensorList& global, uint32_t client, int steps,
                            uint64_t seed) override;
  Result<EvalOutput> Evaluate(size_t worker, const TensorList& model) override;
  double local_lr() const override { return options_.lr; }
  int batch() const override { return static_cast<int>(options_.batch_size); }

 private:
  FashionMnistWorkload() = default;

  WorkloadConfig config_;
  model::ModelConfig model_config_;
  trainer::TrainOptions options_;
  data::ImageDataset train_, test_;
  std::unique_ptr<model::Examples> train_ex_, test_ex_;
  data::Partition shards_;
  std::vector<std::vector<double>> label_dist_;
  std::vector<uint32_t> eval_idx_;
  TensorList initial_;
  int64_t num_parameters_ = 0;
  std::vector<std::unique_ptr<trainer::LocalTrainer>> trainers_;
};

}  // namespace murmur::sim
