// murmur-train: trains murmur's default linear-attention image model
// centrally on all of Fashion-MNIST (CPU by default), then reports test
// accuracy. It is the yardstick for the model the federated clients train:
// what the architecture reaches without federation.
//
//   murmur-train                          # default model, data from dataset-fashion-mnist
//   murmur-train --epochs 3 --json out.json --save model.mrmt
//   murmur-train --model decay=gla,feature_map=hedgehog --max-steps 200
//
// Flags come from the command line and/or a TOML file (--config); --help
// lists them. A progress bar runs on stderr; --json writes test_accuracy
// (0..1), test_loss, wall_s, params, epochs, steps, samples_per_s, model.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "common/codec/tensor_file.h"
#include "common/config.h"
#include "common/data/fashion_mnist.h"
#include "common/logging.h"
#include "common/progress_bar.h"
#include "ml/batch_sampler.h"
#include "ml/cpu_threads.h"
#include "ml/local_trainer.h"

namespace {

using namespace murmur;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  std::string data_dir = data::kDefaultFashionMnistDir;
  std::string model;  // "k=v,..." on top of the default image model
  int epochs = 6;
  int64_t max_steps = 0;
  int64_t train_limit = 0;
  int64_t test_limit = 0;
  std::string optimizer = "adam";
  double lr = 3e-3;
  double weight_decay = 0.0;
  int64_t batch = 64;
  std::string schedule = "cosine";
  int64_t warmup_steps = 200;
  double grad_clip = 1.0;
  int threads = 0;
  std::string device = "auto";
  uint64_t seed = 1;
  bool eval_each_epoch = false;
  bool progress = true;
  std::string init;
  std::string save;
  std::string json;
};

std::vector<uint32_t> FirstN(size_t size, int64_t limit) {
  const size_t n = limit > 0 ? std::min(size, static_cast<size_t>(limit)) : size;
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

int Fail(const Status& st) {
  log::Error("murmur-train failed", {{"error", st.ToString()}});
  return 1;
}

int Run(const Flags& f) {
  const auto t0 = SteadyClock::now();
  const int threads = model::ConfigureCpuThreads(f.threads);

  Result<data::ImageDataset> train = data::LoadFashionMnist(f.data_dir, data::Split::kTrain);
  if (!train.ok()) return Fail(train.status());
  Result<data::ImageDataset> test = data::LoadFashionMnist(f.data_dir, data::Split::kTest);
  if (!test.ok()) return Fail(test.status());
  const std::vector<uint32_t> train_idx = FirstN(train->size(), f.train_limit);
  const std::vector<uint32_t> test_idx = FirstN(test->size(), f.test_limit);
  const model::Examples train_ex = model::Examples::Images(*train);
  const model::Examples test_ex = model::Examples::Images(*test);

  Result<model::ModelConfig> config = model::ParseModelConfig(f.model);
  if (!config.ok()) return Fail(config.status());

  const int64_t batch = std::min<int64_t>(f.batch, static_cast<int64_t>(train_idx.size()));
  const int64_t steps_per_epoch = static_cast<int64_t>(train_idx.size()) / batch;
  int64_t total_steps = steps_per_epoch * f.epochs;
  if (f.max_steps > 0) total_steps = std::min(total_steps, f.max_steps);

  trainer::TrainOptions options;
  Result<trainer::OptimizerKind> opt = trainer::ParseOptimizer(f.optimizer);
  if (!opt.ok()) return Fail(opt.status());
  Result<trainer::LrSchedule> schedule = trainer::ParseLrSchedule(f.schedule);
  if (!schedule.ok()) return Fail(schedule.status());
  options.optimizer = *opt;
  options.schedule = *schedule;
  options.lr = f.lr;
  options.weight_decay = f.weight_decay;
  options.batch_size = batch;
  options.warmup_steps = std::min(f.warmup_steps, total_steps / 4);
  options.total_steps = std::max<int64_t>(total_steps, 1);
  options.grad_clip_norm = f.grad_clip;
  options.device = f.device;
  Result<std::unique_ptr<trainer::LocalTrainer>> created =
      trainer::LocalTrainer::Create(*config, options);
  if (!created.ok()) return Fail(created.status());
  trainer::LocalTrainer& tr = **created;

  if (!f.init.empty()) {
    Result<TensorList> init = ReadTensorFile(f.init, &tr.spec());
    if (!init.ok()) return Fail(init.status());
    if (Status st = tr.SetParameters(*init); !st.ok()) return Fail(st);
    log::Info("initial weights loaded", {{"path", f.init}});
  }
  log::Info("training", {{"model", tr.Describe()},
                         {"train", static_cast<int64_t>(train_idx.size())},
                         {"test", static_cast<int64_t>(test_idx.size())},
                         {"threads", threads},
                         {"steps", total_steps}});

  model::BatchSampler sampler(train_idx, Rng(f.seed));
  int64_t steps_done = 0;
  int epochs_run = 0;
  double train_seconds = 0.0, last_loss = 0.0;
  int64_t samples = 0;
  while (steps_done < total_steps) {
    const int64_t steps = std::min(steps_per_epoch, total_steps - steps_done);
    ProgressBar bar(fmt::format("epoch {}/{}", epochs_run + 1, f.epochs), steps, stderr,
                    f.progress);
    double running = 0.0;
    int64_t in_epoch = 0;
    Result<trainer::RunStats> stats =
        tr.RunSteps(train_ex, sampler, steps, [&](const trainer::StepInfo& s) {
          ++in_epoch;
          running = in_epoch == 1 ? s.loss : 0.98 * running + 0.02 * s.loss;
          bar.Update(in_epoch, fmt::format("loss {:.3f}  lr {:.2e}", running, s.lr));
        });
    bar.Finish(fmt::format("loss {:.3f}", running));
    if (!stats.ok()) return Fail(stats.status());
    steps_done += stats->steps;
    samples += stats->samples;
    train_seconds += stats->wall_seconds;
    last_loss = stats->mean_loss;
    ++epochs_run;
    std::string test_acc = "-";
    if (f.eval_each_epoch) {
      Result<trainer::EvalResult> ev = tr.EvaluateCurrent(test_ex, test_idx);
      if (!ev.ok()) return Fail(ev.status());
      test_acc = fmt::format("{:.4f}", ev->accuracy);
    }
    log::Info("epoch done", {{"epoch", epochs_run},
                             {"train_loss", stats->mean_loss},
                             {"samples_per_s", stats->samples / stats->wall_seconds},
                             {"test_accuracy", test_acc}});
  }

  Result<trainer::EvalResult> ev = tr.EvaluateCurrent(test_ex, test_idx);
  if (!ev.ok()) return Fail(ev.status());
  const double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const double epochs = static_cast<double>(steps_done) / static_cast<double>(steps_per_epoch);
  const double samples_per_s = train_seconds > 0 ? samples / train_seconds : 0.0;

  std::printf("test accuracy  %.4f  (loss %.4f, %lld images)\n", ev->accuracy, ev->loss,
              static_cast<long long>(ev->examples));
  std::printf("params         %lld\n", static_cast<long long>(tr.num_parameters()));
  std::printf("epochs         %.2f  (%lld steps of %lld)\n", epochs,
              static_cast<long long>(steps_done), static_cast<long long>(batch));
  std::printf("throughput     %.0f samples/s on %d threads\n", samples_per_s, threads);
  std::printf("wall time      %.1f s\n", wall);

  if (!f.save.empty()) {
    if (Status st = WriteTensorFile(f.save, tr.GetParameters()); !st.ok()) return Fail(st);
    log::Info("weights saved", {{"path", f.save}});
  }
  if (!f.json.empty()) {
    nlohmann::json j = {{"test_accuracy", ev->accuracy},
                        {"test_loss", ev->loss},
                        {"train_loss", last_loss},
                        {"wall_s", wall},
                        {"params", tr.num_parameters()},
                        {"epochs", epochs},
                        {"steps", steps_done},
                        {"samples_per_s", samples_per_s},
                        {"threads", threads},
                        {"model", model::ModelConfigToString(tr.config())}};
    std::ofstream out(f.json);
    out << j.dump(2) << "\n";
    if (!out) return Fail(UnavailableError(fmt::format("cannot write {}", f.json)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  CLI::App app{"murmur-train: central training of the linear-attention image model on "
               "Fashion-MNIST"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--data-dir", f.data_dir, "Directory with the Fashion-MNIST gzip IDX files")
      ->capture_default_str();
  app.add_option("--model", f.model,
                 "Model options over the default image model, k=v,k=v (e.g. "
                 "dim=96,decay=gla,feature_map=hedgehog); see ml/model_config.h");
  app.add_option("--epochs", f.epochs, "Passes over the training set")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-steps", f.max_steps, "Stop after this many steps (0: no limit)")
      ->capture_default_str();
  app.add_option("--train-limit", f.train_limit, "Use the first N training images (0: all)")
      ->capture_default_str();
  app.add_option("--test-limit", f.test_limit, "Evaluate on the first N test images (0: all)")
      ->capture_default_str();
  app.add_option("--optimizer", f.optimizer, "sgd, momentum, adam or adamw")->capture_default_str();
  app.add_option("--lr", f.lr, "Peak learning rate")->capture_default_str();
  app.add_option("--weight-decay", f.weight_decay, "Weight decay")->capture_default_str();
  app.add_option("--batch", f.batch, "Minibatch size")->capture_default_str()->check(
      CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--schedule", f.schedule, "Learning-rate schedule: constant or cosine")
      ->capture_default_str();
  app.add_option("--warmup-steps", f.warmup_steps, "Linear warm-up steps (capped at 1/4 of the run)")
      ->capture_default_str();
  app.add_option("--grad-clip", f.grad_clip, "Clip the gradient norm (0: off)")
      ->capture_default_str();
  app.add_option("--threads", f.threads, "LibTorch CPU threads (0: all cores)")
      ->capture_default_str();
  app.add_option("--device", f.device, "auto, cpu or cuda[:N]")->capture_default_str();
  app.add_option("--seed", f.seed, "Seed of the minibatch order")->capture_default_str();
  app.add_flag("--eval-each-epoch", f.eval_each_epoch, "Report test accuracy after every epoch");
  app.add_flag("--progress,!--no-progress", f.progress, "Progress bar on stderr")
      ->capture_default_str();
  app.add_option("--init", f.init, "Start from the weights in this named-tensor file");
  app.add_option("--save", f.save, "Write the trained weights to this named-tensor file");
  app.add_option("--json", f.json, "Write a JSON summary here");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status st = log::Init(log_options); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 2;
  }
  return Run(f);
}
