// murmur-init-model: writes the initial weights of a federated job to a
// named-tensor file (common/codec/tensor_file.h), so the coordinator (which
// links no LibTorch) can start from them with `murmur-coordinator --init FILE`.
//
//   murmur-init-model --out init.mrmt                      # default image model
//   murmur-init-model --out init.mrmt --model dim=64,depth=2 --seed 7
//
// The model is the default Fashion-MNIST linear-attention model with the
// `--model` overrides on top (the same k=v text murmur-train takes); its
// weights are the model's own deterministic initialization from its init
// seed (`--seed` overrides the model's init_seed). The same flags always
// give a byte-identical file. Prints the parameter count and the XXH3-64 of
// the file; the file is read back and checked before the tool says OK.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/checksum.h"
#include "common/codec/tensor_file.h"
#include "common/config.h"
#include "common/logging.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"

namespace {

using namespace murmur;

int Fail(const Status& st, const char* what) {
  std::fprintf(stderr, "murmur-init-model: %s: %s\n", what, st.ToString().c_str());
  return 1;
}

Result<uint64_t> FileXxh3(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return UnavailableError(fmt::format("cannot open {}", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return UnavailableError(fmt::format("error reading {}", path));
  return Xxh3(buffer.str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  std::string model_text;
  uint64_t seed = 0;
  log::Options log_options;
  CLI::App app{"murmur-init-model: write a model's initial weights to a named-tensor file "
               "(for murmur-coordinator --init)"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--out", out, "Named-tensor file to write (replaced atomically)")->required();
  app.add_option("--model", model_text,
                 "Model options over the default image model, k=v,k=v (e.g. dim=64,depth=2); "
                 "see ml/model_config.h");
  CLI::Option* seed_option =
      app.add_option("--seed", seed, "Initialization seed (default: the model's init_seed, 0)");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status st = log::Init(log_options); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 2;
  }

  auto config = model::ParseModelConfig(model_text);
  if (!config.ok()) return Fail(config.status(), "--model");
  if (seed_option->count() > 0) config->init_seed = seed;
  trainer::TrainOptions options;
  options.device = "cpu";  // the canonical initialization, whatever the machine has
  auto trainer = trainer::LocalTrainer::Create(*config, options);
  if (!trainer.ok()) return Fail(trainer.status(), "building the model");
  const TensorList weights = (*trainer)->GetParameters();
  if (Status st = WriteTensorFile(out, weights); !st.ok()) return Fail(st, "writing");

  const ModelSpec spec = SpecOf(weights);
  auto loaded = ReadTensorFile(out, &spec);
  if (!loaded.ok()) return Fail(loaded.status(), "reading the file back");
  auto checksum = FileXxh3(out);
  if (!checksum.ok()) return Fail(checksum.status(), "checksumming the file");
  std::printf("wrote %s: %zu tensors, %lld parameters, xxh3 %016llx\nmodel: %s\n", out.c_str(),
              weights.size(), static_cast<long long>(TotalElements(weights)),
              static_cast<unsigned long long>(*checksum),
              model::ModelConfigToString(*config).c_str());
  return 0;
}
