#include "ml/local_trainer.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "ml/batcher.h"
#include "ml/model.h"
#include "ml/parameters.h"

namespace murmur::trainer {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

constexpr std::array<std::pair<std::string_view, OptimizerKind>, 4> kOptimizers{{
    {"sgd", OptimizerKind::kSgd},
    {"momentum", OptimizerKind::kMomentum},
    {"adam", OptimizerKind::kAdam},
    {"adamw", OptimizerKind::kAdamW},
}};
constexpr std::array<std::pair<std::string_view, LrSchedule>, 2> kSchedules{{
    {"constant", LrSchedule::kConstant},
    {"cosine", LrSchedule::kCosine},
}};

Result<torch::Device> ChooseDevice(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return FailedPreconditionError(fmt::format(
          "device '{}' was asked for but this LibTorch has no usable CUDA device; use "
          "--device cpu or auto",
          name));
    }
    if (!device.is_cpu() && !device.is_cuda()) {
      return InvalidArgumentError(fmt::format("device '{}': only cpu and cuda are supported", name));
    }
    return device;
  } catch (const c10::Error&) {
    return InvalidArgumentError(
        fmt::format("unknown device '{}' (use auto, cpu, cuda or cuda:N)", name));
  }
}

// Scales the gradients so their global L2 norm is at most `max_norm`.
void ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  }
  if (norms.empty()) return;
  const double total = at::stack(norms).norm().item<double>();
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) p.grad().mul_(coef);
  }
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::vector<torch::Tensor>& params,
                                                       const TrainOptions& o) {
  switch (o.optimizer) {
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(o.lr).weight_decay(o.weight_decay));
    case OptimizerKind::kMomentum:
      return std::make_unique<torch::optim::SGD>(
          params,
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  }
  return nullptr;
}

}  // namespace

std::string_view OptimizerName(OptimizerKind kind) {
  for (const auto& [n, k] : kOptimizers) {
    if (k == kind) return n;
  }
  return "?";
}

Result<OptimizerKind> ParseOptimizer(std::string_view name) {
  for (const auto& [n, k] : kOptimizers) {
    if (n == name) return k;
  }
  return InvalidArgumentError(
      fmt::format("unknown optimizer '{}' (choose sgd, momentum, adam or adamw)", name));
}

std::string_view LrScheduleName(LrSchedule schedule) {
  for (const auto& [n, s] : kSchedules) {
    if (s == schedule) return n;
  }
  return "?";
}

Result<LrSchedule> ParseLrSchedule(std::string_view name) {
  for (const auto& [n, s] : kSchedules) {
    if (n == name) return s;
  }
  return InvalidArgumentError(
      fmt::format("unknown learning-rate schedule '{}' (choose constant or cosine)", name));
}

Status ValidateTrainOptions(const TrainOptions& o) {
  if (!(o.lr > 0.0) || !std::isfinite(o.lr)) {
    return InvalidArgumentError(fmt::format("learning rate must be finite and > 0, got {}", o.lr));
  }
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) {
    return InvalidArgumentError(fmt::format("momentum must be in [0, 1), got {}", o.momentum));
  }
  if (!(o.weight_decay >= 0.0) || !std::isfinite(o.weight_decay)) {
    return InvalidArgumentError(fmt::format("weight decay must be >= 0, got {}", o.weight_decay));
  }
  if (o.batch_size < 1 || o.eval_batch_size < 1) {
    return InvalidArgumentError(fmt::format("batch sizes must be >= 1, got {} and {}",
                                            o.batch_size, o.eval_batch_size));
  }
  if (!(o.grad_clip_norm >= 0.0) || !std::isfinite(o.grad_clip_norm)) {
    return InvalidArgumentError(
        fmt::format("gradient clip norm must be >= 0 (0: off), got {}", o.grad_clip_norm));
  }
  if (o.warmup_steps < 0 || o.total_steps < 0) {
    return InvalidArgumentError("warmup_steps and total_steps must be >= 0");
  }
  if (o.schedule == LrSchedule::kCosine && o.total_steps < 1) {
    return InvalidArgumentError("the cosine schedule needs total_steps >= 1");
  }
  return Status::Ok();
}

double LearningRateAt(const TrainOptions& o, int64_t step) {
  double lr = o.lr;
  if (o.warmup_steps > 0 && step < o.warmup_steps) {
    lr *= static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  if (o.schedule == LrSchedule::kCosine && o.total_steps > 0) {
    const double progress =
        std::min(1.0, static_cast<double>(step) / static_cast<double>(o.total_steps));
    lr *= 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  }
  return lr;
}

Result<TensorList> StepNormalizedUpdate(const LocalUpdate& u) {
  if (!(u.local_lr > 0.0) || u.local_steps <= 0) {
    return InvalidArgumentError(fmt::format(
        "a step-normalized update needs local_lr > 0 and K > 0, got lr {} and K {}", u.local_lr,
        u.local_steps));
  }
  const float factor = static_cast<float>(-1.0 / (u.local_lr * static_cast<double>(u.local_steps)));
  TensorList g = u.delta;
  for (Tensor& t : g) {
    for (float& v : t.data) v *= factor;
  }
  return g;
}

struct LocalTrainer::Impl {
  model::ModelConfig config;
  TrainOptions options;
  ModelSpec spec;
  torch::Device device = torch::kCPU;
  std::shared_ptr<model::Model> model;
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  int64_t steps_done = 0;

  bool ParametersFinite() const {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : params) {
      if (!at::isfinite(p).all().item<bool>()) return false;
    }
    return true;
  }

  Result<RunStats> Run(const model::Examples& examples, model::BatchSampler& sampler,
                       int64_t steps, const StepCallback& on_step);
  Result<EvalResult> Eval(const model::Examples& examples, std::span<const uint32_t> indices);
};

Result<RunStats> LocalTrainer::Impl::Run(const model::Examples& examples,
                                         model::BatchSampler& sampler, int64_t steps,
                                         const StepCallback& on_step) {
  if (steps < 1) return InvalidArgumentError(fmt::format("local steps must be >= 1, got {}", steps));
  if (sampler.shard_size() == 0) return InvalidArgumentError("the client's shard is empty");
  MURMUR_RETURN_IF_ERROR(examples.CheckFits(config));
  MURMUR_RETURN_IF_ERROR(examples.CheckIndices(sampler.indices()));
  const auto t0 = SteadyClock::now();
  RunStats stats;
  double loss_sum = 0.0;
  int64_t step = 0;
  try {
    model->train();
    for (; step < steps; ++step) {
      const double lr = LearningRateAt(options, steps_done);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
      const model::Batch batch = model::MakeBatch(examples, sampler.Next(options.batch_size), device);
      optimizer->zero_grad();
      const torch::Tensor loss = model->Loss(model->forward(batch.input), batch.target);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        return AbortedError(fmt::format(
            "training diverged: the loss is {} at step {} of {} (lr {}); no update was produced "
            "(lower the learning rate or clip gradients)",
            value, step + 1, steps, lr));
      }
      loss.backward();
      if (options.grad_clip_norm > 0.0) {
        ClipGradNorm(params, options.grad_clip_norm);
      }
      optimizer->step();
      ++steps_done;
      loss_sum += value;
      stats.samples += batch.size;
      if (on_step) on_step(StepInfo{steps_done, value, lr, batch.size});
    }
  } catch (const c10::Error& e) {
    if (!ParametersFinite()) {
      return AbortedError(fmt::format(
          "training diverged: the parameters hold NaN/Inf at step {} of {} ({})", step + 1, steps,
          e.what_without_backtrace()));
    }
    return InternalError(
        fmt::format("training step {} of {}: {}", step + 1, steps, e.what_without_backtrace()));
  }
  if (!ParametersFinite()) {
    return AbortedError(fmt::format(
        "training diverged: the parameters hold NaN/Inf after {} steps (lr {}); no update was "
        "produced",
        steps, options.lr));
  }
  stats.steps = steps;
  stats.mean_loss = loss_sum / static_cast<double>(steps);
  stats.wall_seconds = SecondsSince(t0);
  return stats;
}

Result<EvalResult> LocalTrainer::Impl::Eval(const model::Examples& examples,
                                            std::span<const uint32_t> indices) {
  if (indices.empty()) return InvalidArgumentError("nothing to evaluate: no example indices");
  MURMUR_RETURN_IF_ERROR(examples.CheckFits(config));
  MURMUR_RETURN_IF_ERROR(examples.CheckIndices(indices));
  EvalResult result;
  double loss_sum = 0.0, correct = 0.0;
  try {
    torch::NoGradGuard no_grad;
    model->eval();
    for (size_t begin = 0; begin < indices.size();
         begin += static_cast<size_t>(options.eval_batch_size)) {
      const size_t n = std::min(indices.size() - begin, static_cast<size_t>(options.eval_batch_size));
      const model::Batch batch = model::MakeBatch(examples, indices.subspan(begin, n), device);
      const torch::Tensor logits = model->forward(batch.input);
      const int64_t predictions = batch.target.numel();
      loss_sum += model->Loss(logits, batch.target).item<double>() * static_cast<double>(predictions);
      correct += model->Correct(logits, batch.target).sum().item<double>();
      result.predictions += predictions;
      result.examples += batch.size;
    }
    model->train();
  } catch (const c10::Error& e) {
    return InternalError(fmt::format("evaluation: {}", e.what_without_backtrace()));
  }
  result.loss = loss_sum / static_cast<double>(result.predictions);
  result.accuracy = correct / static_cast<double>(result.predictions);
  return result;
}

LocalTrainer::LocalTrainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalTrainer::~LocalTrainer() = default;

Result<std::unique_ptr<LocalTrainer>> LocalTrainer::Create(const model::ModelConfig& config,
                                                           const TrainOptions& options) {
  MURMUR_RETURN_IF_ERROR(ValidateTrainOptions(options));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = options;
  MURMUR_ASSIGN_OR_RETURN(impl->device, ChooseDevice(options.device));
  MURMUR_ASSIGN_OR_RETURN(impl->model, model::CreateModel(config));
  try {
    impl->model->to(impl->device);
    impl->params = impl->model->parameters();
    impl->optimizer = MakeOptimizer(impl->params, options);
  } catch (const c10::Error& e) {
    return InternalError(fmt::format("setting up the trainer on {}: {}", impl->device.str(),
                                     e.what_without_backtrace()));
  }
  impl->spec = model::SpecOf(*impl->model);
  return std::unique_ptr<LocalTrainer>(new LocalTrainer(std::move(impl)));
}

const model::ModelConfig& LocalTrainer::config() const { return impl_->config; }
const TrainOptions& LocalTrainer::options() const { return impl_->options; }
const ModelSpec& LocalTrainer::spec() const { return impl_->spec; }
int64_t LocalTrainer::num_parameters() const { return model::NumParameters(*impl_->model); }
std::string LocalTrainer::device() const { return impl_->device.str(); }
int64_t LocalTrainer::steps_done() const { return impl_->steps_done; }

std::string LocalTrainer::Describe() const {
  const TrainOptions& o = impl_->options;
  return fmt::format("{} | {} lr={} batch={} {} | device {}", model::DescribeModel(*impl_->model),
                     OptimizerName(o.optimizer), o.lr, o.batch_size, LrScheduleName(o.schedule),
                     device());
}

Status LocalTrainer::SetParameters(const TensorList& params) {
  return model::SetParameters(*impl_->model, params);
}

TensorList LocalTrainer::GetParameters() const { return model::GetParameters(*impl_->model); }

void LocalTrainer::ResetOptimizer() {
  impl_->optimizer = MakeOptimizer(impl_->params, impl_->options);
  impl_->steps_done = 0;
}

Result<RunStats> LocalTrainer::RunSteps(const model::Examples& examples,
                                        model::BatchSampler& sampler, int64_t steps,
                                        const StepCallback& on_step) {
  return impl_->Run(examples, sampler, steps, on_step);
}

Result<EvalResult> LocalTrainer::EvaluateCurrent(const model::Examples& examples,
                                                 std::span<const uint32_t> indices) {
  return impl_->Eval(examples, indices);
}

Result<EvalResult> LocalTrainer::Evaluate(const TensorList& params,
                                          const model::Examples& examples,
                                          std::span<const uint32_t> indices) {
  MURMUR_RETURN_IF_ERROR(SetParameters(params));
  return impl_->Eval(examples, indices);
}

Result<LocalUpdate> LocalTrainer::Train(const TensorList& global, const model::Examples& examples,
                                        std::span<const uint32_t> shard, int64_t steps,
                                        Rng& rng) {
  const auto t0 = SteadyClock::now();
  MURMUR_RETURN_IF_ERROR(SetParameters(global).WithContext("the global model"));
  ResetOptimizer();
  model::BatchSampler sampler(shard, Rng(rng.NextU64()));
  MURMUR_ASSIGN_OR_RETURN(RunStats stats, impl_->Run(examples, sampler, steps, {}));
  LocalUpdate update;
  update.delta = GetParameters();
  for (size_t i = 0; i < update.delta.size(); ++i) {
    std::vector<float>& d = update.delta[i].data;
    const std::vector<float>& g = global[i].data;
    for (size_t j = 0; j < d.size(); ++j) d[j] -= g[j];
  }
  update.local_steps = stats.steps;
  update.samples = stats.samples;
  update.mean_loss = stats.mean_loss;
  update.local_lr = impl_->options.lr;
  update.wall_seconds = SecondsSince(t0);
  return update;
}

}  // namespace murmur::trainer
