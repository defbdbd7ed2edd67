// Runs the murmur-eval binary (path in MURMUR_EVAL_BIN) on model files
// written here and checks its figures against ml/'s own evaluation of the
// same weights in process; a file that does not fit the model options is
// refused. Needs the installed Fashion-MNIST (skipped without it).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "common/codec/tensor_file.h"
#include "common/data/fashion_mnist.h"
#include "common/rng.h"
#include "ml/examples.h"
#include "ml/local_trainer.h"
#include "ml/model_config.h"

namespace murmur {
namespace {

constexpr char kModel[] = "dim=16,depth=1,heads=2";

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != 0 ? base : "/tmp") +
                       "/murmur-eval-XXXXXX";
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
  const std::string cmd = std::string(MURMUR_EVAL_BIN) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class EvalTool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(data::kDefaultFashionMnistDir) +
                                 "/t10k-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed";
    }
    auto config = model::ParseModelConfig(kModel);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    trainer::TrainOptions options;
    options.device = "cpu";
    options.lr = 0.05;  // the e2e test's recipe: a few steps move the model clearly
    auto created = trainer::LocalTrainer::Create(config_, options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    trainer_ = std::move(*created);
    auto test = data::LoadFashionMnist(data::kDefaultFashionMnistDir, data::Split::kTest);
    ASSERT_TRUE(test.ok()) << test.status().ToString();
    test_ = std::move(*test);
  }

  // ml/'s figures for `weights` on the first n test images.
  trainer::EvalResult InProcess(const TensorList& weights, size_t n) {
    std::vector<uint32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0u);
    auto ev = trainer_->Evaluate(weights, model::Examples::Images(test_), idx);
    EXPECT_TRUE(ev.ok()) << ev.status().ToString();
    return ev.ok() ? *ev : trainer::EvalResult{};
  }

  model::ModelConfig config_;
  std::unique_ptr<trainer::LocalTrainer> trainer_;
  data::ImageDataset test_;
  TempDir dir_;
};

TEST_F(EvalTool, ReportsMlsOwnFiguresForTheInitialAndATrainedModel) {
  const TensorList initial = trainer_->GetParameters();
  // A few central steps on training images: a model clearly better than chance.
  auto train = data::LoadFashionMnist(data::kDefaultFashionMnistDir, data::Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  std::vector<uint32_t> shard(2000);
  std::iota(shard.begin(), shard.end(), 0u);
  Rng rng(3);
  auto update = trainer_->Train(initial, model::Examples::Images(*train), shard, 100, rng);
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  TensorList trained = initial;
  for (size_t i = 0; i < trained.size(); ++i) {
    for (size_t j = 0; j < trained[i].data.size(); ++j) trained[i].data[j] += update->delta[i].data[j];
  }
  ASSERT_TRUE(WriteTensorFile(dir_.File("init.mrmt"), initial).ok());
  ASSERT_TRUE(WriteTensorFile(dir_.File("trained.mrmt"), trained).ok());

  double accuracy[2];
  const char* names[2] = {"init", "trained"};
  for (int k = 0; k < 2; ++k) {
    const std::string json = dir_.File(std::string(names[k]) + ".json");
    RunResult r = RunTool(std::string("--weights ") + dir_.File(std::string(names[k]) + ".mrmt") +
                          " --model " + kModel + " --limit 400 --threads 1 --json " + json);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("test accuracy"), std::string::npos) << r.output;
    std::ifstream in(json);
    const nlohmann::json j = nlohmann::json::parse(in);
    const trainer::EvalResult expected = InProcess(k == 0 ? initial : trained, 400);
    EXPECT_EQ(j["examples"].get<int64_t>(), 400);
    EXPECT_NEAR(j["test_accuracy"].get<double>(), expected.accuracy, 1e-9);
    EXPECT_NEAR(j["test_loss"].get<double>(), expected.loss, 1e-4);
    EXPECT_EQ(j["params"].get<int64_t>(), TotalElements(initial));
    accuracy[k] = j["test_accuracy"].get<double>();
  }
  EXPECT_GT(accuracy[1], accuracy[0] + 0.15) << "100 steps of training should beat chance clearly";
}

TEST_F(EvalTool, RefusesAFileThatDoesNotFitTheModelAndAMissingFile) {
  ASSERT_TRUE(WriteTensorFile(dir_.File("m.mrmt"), trainer_->GetParameters()).ok());
  RunResult wrong = RunTool("--weights " + dir_.File("m.mrmt") +
                            " --model dim=32,depth=1,heads=2 --limit 10");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("does not hold a model"), std::string::npos) << wrong.output;
  RunResult missing = RunTool("--weights " + dir_.File("none.mrmt") + " --model " + kModel);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("none.mrmt"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace murmur
