// LocalTrainer: a client's local training of murmur's linear-attention model.
//
// The federated path: Train(global, examples, shard, K, rng) loads the
// global parameters, runs K optimizer steps on minibatches of the client's
// shard (fresh optimizer state each call) and returns a LocalUpdate whose
// delta (trained - global) has exactly the model's spec. Evaluate(params,
// examples, indices) gives loss and accuracy.
//
// Numerical guard: a NaN/Inf loss (or parameters that turned NaN/Inf) stops
// the job with an ABORTED status that says at which step and why; no update
// is produced. The caller should drop the round, not send anything.
//
// The trainer also exposes its own parameters and optimizer for central
// training (murmur-train): SetParameters/GetParameters, RunSteps (continues
// with the current optimizer state and learning-rate schedule), and
// EvaluateCurrent.
//
// Device: TrainOptions::device "auto" picks CUDA when LibTorch has it,
// else the CPU. The header has no LibTorch types (the model lives behind a
// pimpl), so callers compile without torch headers. Every error comes back
// as a Status; no exception escapes.
//
// Threading: a LocalTrainer is used by one thread at a time. Run several
// trainers in parallel for several simulated clients (each holds its own
// model and optimizer); LibTorch's intra-op pool is shared, so set it with
// model::ConfigureCpuThreads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/codec/tensor.h"
#include "common/rng.h"
#include "common/status.h"
#include "ml/batch_sampler.h"
#include "ml/examples.h"
#include "ml/model_config.h"

namespace murmur::trainer {

enum class OptimizerKind {
  kSgd,       // "sgd"
  kMomentum,  // "momentum": SGD with heavy-ball momentum
  kAdam,      // "adam"
  kAdamW,     // "adamw": Adam with decoupled weight decay
};
std::string_view OptimizerName(OptimizerKind kind);
Result<OptimizerKind> ParseOptimizer(std::string_view name);

enum class LrSchedule {
  kConstant,  // "constant"
  kCosine,    // "cosine": lr * 0.5 * (1 + cos(pi * step / total_steps)), 0 after total_steps
};
std::string_view LrScheduleName(LrSchedule schedule);
Result<LrSchedule> ParseLrSchedule(std::string_view name);

struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double lr = 0.05;
  double momentum = 0.9;      // kMomentum
  double weight_decay = 0.0;  // L2 for sgd/momentum/adam, decoupled for adamw
  int64_t batch_size = 32;
  double grad_clip_norm = 0.0;  // clip the global gradient norm; 0: off
  LrSchedule schedule = LrSchedule::kConstant;
  int64_t warmup_steps = 0;  // linear warm-up from lr/warmup_steps (any schedule)
  int64_t total_steps = 0;   // kCosine: the steps over which lr decays to 0
  std::string device = "auto";  // "auto", "cpu", "cuda", "cuda:N"
  int64_t eval_batch_size = 500;
};

// OK, or InvalidArgument naming the bad option.
Status ValidateTrainOptions(const TrainOptions& options);

// The learning rate at trainer step `step` (0-based) under `options`.
double LearningRateAt(const TrainOptions& options, int64_t step);

struct LocalUpdate {
  TensorList delta;         // trained - global, in the model's spec
  int64_t local_steps = 0;  // K
  int64_t samples = 0;      // examples processed over the K steps
  double mean_loss = 0.0;   // mean training loss over the K steps
  double wall_seconds = 0.0;
  double local_lr = 0.0;    // the base learning rate (eta_L)
};

// AFA's step-normalized update (shared/ALGORITHMS.md):
//   G = (x_global - x_K) / (local_lr * K) = -delta / (local_lr * K),
// for plain SGD the average of the K minibatch gradients. InvalidArgument
// when local_lr <= 0 or K <= 0.
Result<TensorList> StepNormalizedUpdate(const LocalUpdate& update);

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy per prediction
  double accuracy = 0.0;  // fraction of argmax predictions that are right, 0..1
  int64_t examples = 0;
  int64_t predictions = 0;  // examples (image) or predicted tokens (charlm)
};

struct StepInfo {
  int64_t step = 0;  // the trainer's step count after this step (1-based)
  double loss = 0.0;
  double lr = 0.0;
  int64_t samples = 0;  // examples in this step's batch
};
using StepCallback = std::function<void(const StepInfo&)>;

struct RunStats {
  int64_t steps = 0;
  int64_t samples = 0;
  double mean_loss = 0.0;
  double wall_seconds = 0.0;
};

class LocalTrainer {
 public:
  // Builds the model (initialized from config.init_seed) on the chosen device.
  static Result<std::unique_ptr<LocalTrainer>> Create(const model::ModelConfig& config,
                                                      const TrainOptions& options);
  ~LocalTrainer();
  LocalTrainer(const LocalTrainer&) = delete;
  LocalTrainer& operator=(const LocalTrainer&) = delete;

  const model::ModelConfig& config() const;
  const TrainOptions& options() const;
  const ModelSpec& spec() const;
  int64_t num_parameters() const;
  std::string device() const;  // "cpu", "cuda:0"
  // One line: model shape, params, optimizer, device.
  std::string Describe() const;

  // K = `steps` steps from `global` on minibatches of `shard` (indices into
  // `examples`) drawn with a sampler seeded from `rng`. Resets the optimizer
  // state and the schedule's step count first. Leaves the trainer at the
  // trained parameters.
  Result<LocalUpdate> Train(const TensorList& global, const model::Examples& examples,
                            std::span<const uint32_t> shard, int64_t steps, Rng& rng);

  // Loss and accuracy of `params` on examples[indices]; leaves the trainer
  // at `params`.
  Result<EvalResult> Evaluate(const TensorList& params, const model::Examples& examples,
                              std::span<const uint32_t> indices);

  // --- central training: the trainer's own state ---
  Status SetParameters(const TensorList& params);  // all-or-nothing
  TensorList GetParameters() const;
  void ResetOptimizer();  // fresh optimizer state, step count 0
  int64_t steps_done() const;

  // `steps` more steps with batches from `sampler` (over indices into
  // `examples`), continuing the optimizer state and schedule. `on_step`
  // (optional) runs after every step.
  Result<RunStats> RunSteps(const model::Examples& examples, model::BatchSampler& sampler,
                            int64_t steps, const StepCallback& on_step = {});

  Result<EvalResult> EvaluateCurrent(const model::Examples& examples,
                                     std::span<const uint32_t> indices);

 private:
  struct Impl;
  explicit LocalTrainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace murmur::trainer
