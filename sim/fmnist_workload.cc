#include "sim/fmnist_workload.h"

#include <numeric>

#include "common/data/fashion_mnist.h"
#include "common/data/partitioners.h"

namespace murmur::sim {

Result<std::unique_ptr<FashionMnistWorkload>> FashionMnistWorkload::Create(
    const WorkloadConfig& config, uint64_t seed) {
  std::unique_ptr<FashionMnistWorkload> w(new FashionMnistWorkload());
  w->config_ = config;
  const std::string dir = config.data_dir.empty() ? data::kDefaultFashionMnistDir : config.data_dir;
  MURMUR_ASSIGN_OR_RETURN(w->train_, data::LoadFashionMnist(dir, data::Split::kTrain));
  MURMUR_ASSIGN_OR_RETURN(w->test_, data::LoadFashionMnist(dir, data::Split::kTest));
  const int classes = w->train_.num_classes;
  MURMUR_ASSIGN_OR_RETURN(data::PartitionScheme scheme, data::ParsePartitionScheme(config.partition));
  data::PartitionSpec spec;
  spec.scheme = scheme;
  spec.num_clients = config.clients;
  spec.alpha = config.alpha;
  spec.min_per_client = static_cast<size_t>(config.batch);
  Rng split_rng = Rng(seed).Fork(1);
  MURMUR_ASSIGN_OR_RETURN(w->shards_,
                          data::MakePartition(spec, std::span<const uint8_t>(w->train_.labels),
                                              classes, split_rng));
  MURMUR_ASSIGN_OR_RETURN(data::LabelCounts hist,
                          data::LabelHistogram(w->shards_, std::span<const uint8_t>(w->train_.labels),
                                               classes));
  for (const auto& counts : hist) {
    const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
    std::vector<double> d(counts.size(), 0.0);
    for (size_t c = 0; c < counts.size(); ++c) d[c] = total > 0 ? counts[c] / total : 0;
    w->label_dist_.push_back(std::move(d));
  }
  w->train_ex_ = std::make_unique<model::Examples>(model::Examples::Images(w->train_));
  w->test_ex_ = std::make_unique<model::Examples>(model::Examples::Images(w->test_));
  const size_t n_eval = config.eval_samples > 0
                            ? std::min<size_t>(config.eval_samples, w->test_.labels.size())
                            : w->test_.labels.size();
  w->eval_idx_.resize(n_eval);
  std::iota(w->eval_idx_.begin(), w->eval_idx_.end(), 0u);

  w->model_config_ = model::DefaultImageConfig();
  if (config.model_dim > 0) w->model_config_.dim = config.model_dim;
  if (config.model_blocks > 0) w->model_config_.depth = config.model_blocks;
  w->model_config_.init_seed = seed;
  MURMUR_ASSIGN_OR_RETURN(w->options_.optimizer, trainer::ParseOptimizer(config.optimizer));
  w->options_.lr = config.local_lr;
  w->options_.batch_size = config.batch;
  w->options_.device = "cpu";
  MURMUR_RETURN_IF_ERROR(w->Prepare(1));
  w->initial_ = w->trainers_[0]->GetParameters();
  w->num_parameters_ = w->trainers_[0]->num_parameters();
  return w;
}

std::string FashionMnistWorkload::Describe() const {
  return "Fashion-MNIST, " + std::to_string(shards_.size()) + " clients (" + config_.partition +
         (config_.partition == "dirichlet" ? " alpha " + std::to_string(config_.alpha).substr(0, 4) : "") +
         "), " + std::to_string(num_parameters_) + "-parameter linear-attention model, " +
         std::string(trainer::OptimizerName(options_.optimizer)) + " lr " +
         std::to_string(options_.lr).substr(0, 6) + ", batch " + std::to_string(options_.batch_size) +
         ", eval on " + std::to_string(eval_idx_.size()) + " test images";
}

Status FashionMnistWorkload::Prepare(size_t workers) {
  while (trainers_.size() < workers) {
    MURMUR_ASSIGN_OR_RETURN(auto t, trainer::LocalTrainer::Create(model_config_, options_));
    trainers_.push_back(std::move(t));
  }
  return Status::Ok();
}

Result<TrainOutput> FashionMnistWorkload::Train(size_t worker, const TensorList& global,
                                                uint32_t client, int steps, uint64_t seed) {
  if (worker >= trainers_.size()) return InternalError("Train on a worker that was not prepared");
  if (client >= shards_.size()) return InvalidArgumentError("no such client");
  Rng rng(seed);
  MURMUR_ASSIGN_OR_RETURN(trainer::LocalUpdate u,
                          trainers_[worker]->Train(global, *train_ex_, shards_[client], steps, rng));
  TrainOutput out;
  out.delta = std::move(u.delta);
  out.mean_loss = u.mean_loss;
  out.samples = static_cast<uint64_t>(u.samples);
  return out;
}

Result<EvalOutput> FashionMnistWorkload::Evaluate(size_t worker, const TensorList& model) {
  if (worker >= trainers_.size()) return InternalError("Evaluate on a worker that was not prepared");
  MURMUR_ASSIGN_OR_RETURN(trainer::EvalResult r,
                          trainers_[worker]->Evaluate(model, *test_ex_, eval_idx_));
  return EvalOutput{r.accuracy, r.loss};
}

}  // namespace murmur::sim
