// Runs the murmur-init-model binary (path in MURMUR_INIT_MODEL_BIN) and checks
// what it writes: a named-tensor file that loads with the model's spec and
// holds exactly the model's initial weights for those flags.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/codec/tensor_file.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"

namespace murmur {
namespace {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != 0 ? base : "/tmp") +
                       "/murmur-init-model-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

RunResult RunTool(const std::string& args) {
  RunResult r;
  const std::string cmd = std::string(MURMUR_INIT_MODEL_BIN) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TensorList ExpectedWeights(const std::string& model_text, uint64_t seed) {
  auto config = model::ParseModelConfig(model_text);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  config->init_seed = seed;
  trainer::TrainOptions options;
  options.device = "cpu";
  auto trainer = trainer::LocalTrainer::Create(*config, options);
  EXPECT_TRUE(trainer.ok()) << trainer.status().ToString();
  return (*trainer)->GetParameters();
}

void ExpectSameTensors(const TensorList& a, const TensorList& b) {
  ASSERT_EQ(SpecOf(a), SpecOf(b));
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].data.size(), b[i].data.size());
    EXPECT_EQ(0, std::memcmp(a[i].data.data(), b[i].data.data(),
                             a[i].data.size() * sizeof(float)))
        << a[i].name;
  }
}

TEST(InitModelTool, WritesTheModelsInitialWeightsAsALoadableFile) {
  TempDir dir;
  const std::string out = dir.File("init.mrmt");
  RunResult r = RunTool("--out " + out + " --model dim=32,depth=1 --seed 7");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const TensorList expected = ExpectedWeights("dim=32,depth=1", 7);
  const ModelSpec spec = SpecOf(expected);
  auto loaded = ReadTensorFile(out, &spec);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameTensors(*loaded, expected);
  EXPECT_NE(r.output.find(std::to_string(TotalElements(expected)) + " parameters"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("xxh3 "), std::string::npos) << r.output;
}

TEST(InitModelTool, DefaultsToTheDefaultImageModelWithSeedZero) {
  TempDir dir;
  const std::string out = dir.File("default.mrmt");
  RunResult r = RunTool("--out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto loaded = ReadTensorFile(out);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameTensors(*loaded, ExpectedWeights("", 0));
}

TEST(InitModelTool, TheSeedChangesTheWeightsAndTheSameFlagsTheSameFile) {
  TempDir dir;
  ASSERT_EQ(RunTool("--out " + dir.File("a") + " --model dim=32,depth=1 --seed 1").exit_code, 0);
  ASSERT_EQ(RunTool("--out " + dir.File("b") + " --model dim=32,depth=1 --seed 1").exit_code, 0);
  ASSERT_EQ(RunTool("--out " + dir.File("c") + " --model dim=32,depth=1 --seed 2").exit_code, 0);
  auto a = ReadTensorFile(dir.File("a"));
  auto b = ReadTensorFile(dir.File("b"));
  auto c = ReadTensorFile(dir.File("c"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ExpectSameTensors(*a, *b);
  ASSERT_EQ(SpecOf(*a), SpecOf(*c));
  EXPECT_NE(a->front().data, c->front().data);
}

TEST(InitModelTool, RejectsABadModelAndAMissingOut) {
  TempDir dir;
  RunResult bad = RunTool("--out " + dir.File("x") + " --model no_such_key=1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--model"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir.File("x")));
  EXPECT_NE(RunTool("").exit_code, 0);
}

}  // namespace
}  // namespace murmur
