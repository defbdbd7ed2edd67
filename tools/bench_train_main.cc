// murmur-bench-train: training throughput of the linear-attention model with
// murmur's kernel ops vs the same model on the masked-quadratic ATen
// attention (kernels::reference::Quadratic), in one process.
//
// Both trainers start from the same parameters (same init seed) and train on
// the same synthetic data (contents do not change the cost); timed chunks
// alternate between them so a busy machine slows both alike. Prints a short
// table; --json writes ours_samples_per_s, reference_samples_per_s, speedup,
// and the loss gap between the two implementations on one batch (a sanity
// check that they compute the same model).
//
//   murmur-bench-train --json bench_train.json
//   murmur-bench-train --model task=charlm,vocab_size=96,max_seq_len=1024 --seq-len 1024 --batch 8
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "common/config.h"
#include "ml/batch_sampler.h"
#include "ml/cpu_threads.h"
#include "ml/local_trainer.h"

namespace {

using namespace murmur;

struct Flags {
  std::string model;
  int64_t batch = 64;  // murmur-train's default
  int64_t steps = 60;
  int64_t warmup = 3;
  int rounds = 4;
  int threads = 0;
  int64_t seq_len = 256;  // charlm
  std::string json;
};

struct SyntheticData {
  data::ImageDataset images;
  data::TextDataset text;
  data::TextChunks chunks;
};

void MakeData(const model::ModelConfig& c, size_t n, int64_t seq_len, SyntheticData* d) {
  Rng rng(11);
  if (c.task == model::Task::kImage) {
    d->images.rows = static_cast<int>(c.image_rows);
    d->images.cols = static_cast<int>(c.image_cols);
    d->images.num_classes = static_cast<int>(c.num_classes);
    d->images.pixels.resize(n * d->images.image_size());
    for (uint8_t& p : d->images.pixels) p = static_cast<uint8_t>(rng.UniformInt(256));
    for (size_t i = 0; i < n; ++i) {
      d->images.labels.push_back(static_cast<uint8_t>(rng.UniformInt(c.num_classes)));
    }
    return;
  }
  std::u32string chars;
  for (int64_t i = 0; i + 1 < c.vocab_size; ++i) chars.push_back(static_cast<char32_t>(0x21 + i));
  d->text.vocab = data::Vocabulary::FromCodePoints(chars);
  const size_t length = static_cast<size_t>(seq_len) + 1;
  d->text.tokens.resize(n * length);
  for (uint32_t& t : d->text.tokens) {
    t = 1 + static_cast<uint32_t>(rng.UniformInt(d->text.vocab.size() - 1));
  }
  d->text.sources.push_back({"synthetic", "", 0, d->text.tokens.size()});
  d->chunks.length = length;
  for (size_t i = 0; i < n; ++i) {
    d->chunks.starts.push_back(i * length);
    d->chunks.source.push_back(0);
  }
}

int Fail(const Status& st) {
  std::fprintf(stderr, "murmur-bench-train: %s\n", st.ToString().c_str());
  return 1;
}

int Run(const Flags& f) {
  const int threads = model::ConfigureCpuThreads(f.threads);
  Result<model::ModelConfig> config = model::ParseModelConfig(f.model);
  if (!config.ok()) return Fail(config.status());
  SyntheticData data;
  const size_t n = static_cast<size_t>(std::max<int64_t>(4 * f.batch, 256));
  MakeData(*config, n, f.seq_len, &data);
  const model::Examples examples = config->task == model::Task::kImage
                                       ? model::Examples::Images(data.images)
                                       : model::Examples::Text(data.text, data.chunks);
  std::vector<uint32_t> indices(n);
  std::iota(indices.begin(), indices.end(), 0u);

  trainer::TrainOptions options;
  options.optimizer = trainer::OptimizerKind::kAdam;
  options.lr = 1e-3;
  options.batch_size = f.batch;
  options.device = "cpu";
  model::ModelConfig ours_config = *config, ref_config = *config;
  ours_config.attention = model::AttentionImpl::kKernel;
  ref_config.attention = model::AttentionImpl::kReference;
  auto ours = trainer::LocalTrainer::Create(ours_config, options);
  if (!ours.ok()) return Fail(ours.status());
  auto ref = trainer::LocalTrainer::Create(ref_config, options);
  if (!ref.ok()) return Fail(ref.status());

  // Same parameters, same batch: the two implementations must agree.
  const std::vector<uint32_t> probe(indices.begin(),
                                    indices.begin() + std::min<int64_t>(f.batch, 64));
  auto ours_eval = (*ours)->EvaluateCurrent(examples, probe);
  auto ref_eval = (*ref)->EvaluateCurrent(examples, probe);
  if (!ours_eval.ok()) return Fail(ours_eval.status());
  if (!ref_eval.ok()) return Fail(ref_eval.status());
  const double loss_gap = std::abs(ours_eval->loss - ref_eval->loss);

  model::BatchSampler ours_sampler(indices, Rng(1)), ref_sampler(indices, Rng(1));
  auto timed = [&](trainer::LocalTrainer& t, model::BatchSampler& s, int64_t steps,
                   double* seconds, int64_t* samples) -> Status {
    if (steps <= 0) return Status::Ok();
    MURMUR_ASSIGN_OR_RETURN(trainer::RunStats st, t.RunSteps(examples, s, steps));
    *seconds += st.wall_seconds;
    *samples += st.samples;
    return Status::Ok();
  };
  double scratch_s = 0;
  int64_t scratch_n = 0;
  if (Status st = timed(**ours, ours_sampler, f.warmup, &scratch_s, &scratch_n); !st.ok()) {
    return Fail(st);
  }
  if (Status st = timed(**ref, ref_sampler, f.warmup, &scratch_s, &scratch_n); !st.ok()) {
    return Fail(st);
  }
  double ours_s = 0, ref_s = 0;
  int64_t ours_n = 0, ref_n = 0;
  const int rounds = std::max(1, f.rounds);
  for (int r = 0; r < rounds; ++r) {
    const int64_t steps = f.steps / rounds + (r < f.steps % rounds ? 1 : 0);
    if (Status st = timed(**ours, ours_sampler, steps, &ours_s, &ours_n); !st.ok()) return Fail(st);
    if (Status st = timed(**ref, ref_sampler, steps, &ref_s, &ref_n); !st.ok()) return Fail(st);
  }
  const double ours_rate = ours_s > 0 ? ours_n / ours_s : 0.0;
  const double ref_rate = ref_s > 0 ? ref_n / ref_s : 0.0;
  const double speedup = ref_rate > 0 ? ours_rate / ref_rate : 0.0;
  const int64_t tokens = config->task == model::Task::kImage ? config->num_tokens() : f.seq_len;

  std::printf("model: %s\n", (*ours)->Describe().c_str());
  std::printf("batch %lld x %lld tokens, %lld timed steps each, %d threads\n",
              static_cast<long long>(f.batch), static_cast<long long>(tokens),
              static_cast<long long>(f.steps), threads);
  std::printf("%-34s %12s %12s\n", "attention", "samples/s", "ms/step");
  std::printf("%-34s %12.1f %12.2f\n", "murmur kernels (chunked)", ours_rate,
              ours_n > 0 ? 1e3 * ours_s * f.batch / ours_n : 0.0);
  std::printf("%-34s %12.1f %12.2f\n", "ATen reference (masked quadratic)", ref_rate,
              ref_n > 0 ? 1e3 * ref_s * f.batch / ref_n : 0.0);
  std::printf("speedup %.2fx; loss gap between the two on one batch %.2e\n", speedup, loss_gap);

  if (!f.json.empty()) {
    nlohmann::json j = {{"ours_samples_per_s", ours_rate},
                        {"reference_samples_per_s", ref_rate},
                        {"speedup", speedup},
                        {"loss_gap", loss_gap},
                        {"batch", f.batch},
                        {"tokens", tokens},
                        {"steps", f.steps},
                        {"threads", threads},
                        {"params", (*ours)->num_parameters()},
                        {"model", model::ModelConfigToString(*config)}};
    std::ofstream out(f.json);
    out << j.dump(2) << "\n";
    if (!out) return Fail(UnavailableError(fmt::format("cannot write {}", f.json)));
  }
  // The two must compute the same model (fp32, different summation order).
  if (!(loss_gap <= 1e-3 * std::max(1.0, ref_eval->loss))) {
    return Fail(InternalError(fmt::format(
        "the kernel and reference models disagree: loss {} vs {}", ours_eval->loss,
        ref_eval->loss)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"murmur-bench-train: training samples/s, murmur kernels vs ATen reference"};
  AddConfigFileOption(app);
  app.add_option("--model", f.model, "Model options over the default image model (k=v,k=v)");
  app.add_option("--batch", f.batch, "Minibatch size")->capture_default_str()->check(
      CLI::Range(int64_t{1}, int64_t{1} << 16));
  app.add_option("--steps", f.steps, "Timed steps per implementation")->capture_default_str();
  app.add_option("--warmup", f.warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--rounds", f.rounds, "Alternating timed chunks")->capture_default_str();
  app.add_option("--threads", f.threads, "LibTorch CPU threads (0: all cores)")
      ->capture_default_str();
  app.add_option("--seq-len", f.seq_len, "Tokens per sequence (task=charlm)")
      ->capture_default_str();
  app.add_option("--json", f.json, "Write a JSON summary here");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  return Run(f);
}
