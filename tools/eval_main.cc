// murmur-eval: test accuracy and loss of a model file on the Fashion-MNIST
// test set. The coordinator links no LibTorch, so a federated job's global
// model is judged here: export it with `murmurctl export --out FILE
// [--version V]` (or take murmur-init-model's / murmur-train --save's file,
// the same named-tensor format) and evaluate it with the model options it
// was built from.
//
//   murmur-eval --weights global.mrmt --model dim=16,depth=1,heads=2
//   murmur-eval --weights global.mrmt --limit 2000 --json eval.json
//
// The evaluation is ml/'s own (LocalTrainer::Evaluate, the one murmur-train
// reports): mean cross-entropy and argmax accuracy over the first --limit
// test images (0: all 10 000). A file whose tensors do not fit the model
// options is refused with the mismatch named (exit 1). Prints one line;
// --json writes test_accuracy (0..1), test_loss, examples, params, model,
// weights, wall_s.
#include <fmt/format.h>

#include <algorithm>
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
#include "ml/cpu_threads.h"
#include "ml/examples.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"

namespace {

using namespace murmur;

struct Flags {
  std::string weights;
  std::string model;  // "k=v,..." on top of the default image model
  std::string data_dir = data::kDefaultFashionMnistDir;
  int64_t limit = 0;
  int threads = 0;
  std::string device = "cpu";
  std::string json;
};

int Fail(const Status& st, const char* what) {
  std::fprintf(stderr, "murmur-eval: %s: %s\n", what, st.ToString().c_str());
  return 1;
}

int Run(const Flags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  model::ConfigureCpuThreads(f.threads);

  Result<model::ModelConfig> config = model::ParseModelConfig(f.model);
  if (!config.ok()) return Fail(config.status(), "--model");
  trainer::TrainOptions options;
  options.device = f.device;
  Result<std::unique_ptr<trainer::LocalTrainer>> created =
      trainer::LocalTrainer::Create(*config, options);
  if (!created.ok()) return Fail(created.status(), "building the model");
  trainer::LocalTrainer& tr = **created;

  Result<TensorList> weights = ReadTensorFile(f.weights, &tr.spec());
  if (!weights.ok()) {
    return Fail(weights.status().WithContext(fmt::format(
                    "{} does not hold a model {}", f.weights,
                    model::ModelConfigToString(*config))),
                "--weights");
  }
  Result<data::ImageDataset> test = data::LoadFashionMnist(f.data_dir, data::Split::kTest);
  if (!test.ok()) return Fail(test.status(), "--data-dir");
  const model::Examples examples = model::Examples::Images(*test);
  if (Status st = examples.CheckFits(*config); !st.ok()) return Fail(st, "--model");
  const size_t n = f.limit > 0 ? std::min(test->size(), static_cast<size_t>(f.limit))
                               : test->size();
  std::vector<uint32_t> indices(n);
  std::iota(indices.begin(), indices.end(), 0u);

  Result<trainer::EvalResult> ev = tr.Evaluate(*weights, examples, indices);
  if (!ev.ok()) return Fail(ev.status(), "evaluating");
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("test accuracy %.4f  loss %.4f  (%lld images, %s)\n", ev->accuracy, ev->loss,
              static_cast<long long>(ev->examples), f.weights.c_str());
  if (!f.json.empty()) {
    const nlohmann::json j = {{"test_accuracy", ev->accuracy},
                              {"test_loss", ev->loss},
                              {"examples", ev->examples},
                              {"params", tr.num_parameters()},
                              {"model", model::ModelConfigToString(tr.config())},
                              {"weights", f.weights},
                              {"wall_s", wall}};
    std::ofstream out(f.json);
    out << j.dump(2) << "\n";
    if (!out) return Fail(UnavailableError(fmt::format("cannot write {}", f.json)), "--json");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  CLI::App app{"murmur-eval: test accuracy and loss of a model file (murmurctl export, "
               "murmur-init-model, murmur-train --save) on Fashion-MNIST"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--weights", f.weights, "Named-tensor file with the model's weights")
      ->required();
  app.add_option("--model", f.model,
                 "Model options the file was built with, k=v,k=v over the default image model "
                 "(e.g. dim=16,depth=1,heads=2); see ml/model_config.h");
  app.add_option("--data-dir", f.data_dir, "Directory with the Fashion-MNIST gzip IDX files")
      ->capture_default_str();
  app.add_option("--limit", f.limit, "Evaluate on the first N test images (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", f.threads, "LibTorch CPU threads (0: all cores)")
      ->capture_default_str();
  app.add_option("--device", f.device, "cpu, auto or cuda[:N]")->capture_default_str();
  app.add_option("--json", f.json, "Write the result as JSON here");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status st = log::Init(log_options); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 2;
  }
  return Run(f);
}
