// Parameters as the unit that travels: TensorList round trips, all-or-nothing
// rejection of a list that does not fit, and named-tensor files.
#include "ml/parameters.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "common/codec/tensor_file.h"

namespace murmur::model {
namespace {

ModelConfig Small() {
  ModelConfig c;
  c.dim = 16;
  c.heads = 2;
  c.depth = 1;
  c.decay = Decay::kScalar;
  return c;
}

std::shared_ptr<Model> MustCreate(const ModelConfig& c) {
  Result<std::shared_ptr<Model>> m = CreateModel(c);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("murmur_params_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

TEST(ParametersTest, SpecFollowsNamedParametersOrder) {
  auto model = MustCreate(Small());
  const ModelSpec spec = SpecOf(*model);
  ASSERT_FALSE(spec.empty());
  // A module's own parameters come before its submodules' (as in PyTorch).
  EXPECT_EQ(spec[0].name, "pos_embed");
  EXPECT_EQ(spec[0].shape, (Shape{49, 16}));
  EXPECT_EQ(spec[1].name, "patch_embed.weight");
  EXPECT_EQ(spec[1].shape, (Shape{16, 16}));
  EXPECT_EQ(spec.back().name, "head.bias");
  EXPECT_EQ(SpecOf(GetParameters(*model)), spec);
  bool has_gate = false;
  for (const TensorSpec& t : spec) has_gate = has_gate || t.name == "blocks.0.attn.gate.weight";
  EXPECT_TRUE(has_gate);
}

TEST(ParametersTest, GetSetRoundTrip) {
  auto model = MustCreate(Small());
  Rng rng(5);
  const TensorList random = RandomNormal(SpecOf(*model), rng, 0.1);
  ASSERT_TRUE(SetParameters(*model, random).ok());
  const TensorList back = GetParameters(*model);
  ASSERT_EQ(back.size(), random.size());
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i].data, random[i].data) << back[i].name;
}

TEST(ParametersTest, WrongNameOrShapeIsRejectedAndNothingApplied) {
  auto model = MustCreate(Small());
  const TensorList before = GetParameters(*model);
  Rng rng(6);

  TensorList renamed = RandomNormal(SpecOf(*model), rng);
  renamed[3].name = "blocks.0.attn.q_proj.weights";
  Status st = SetParameters(*model, renamed);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("blocks.0.attn.q_proj.weights"), std::string::npos) << st.message();

  TensorList reshaped = RandomNormal(SpecOf(*model), rng);
  reshaped.back().shape = {5};
  reshaped.back().data.resize(5);
  st = SetParameters(*model, reshaped);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("head.bias"), std::string::npos) << st.message();

  TensorList missing = RandomNormal(SpecOf(*model), rng);
  missing.pop_back();
  EXPECT_FALSE(SetParameters(*model, missing).ok());

  TensorList nan = RandomNormal(SpecOf(*model), rng);
  nan.back().data[0] = std::numeric_limits<float>::quiet_NaN();
  st = SetParameters(*model, nan);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);

  const TensorList after = GetParameters(*model);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].data, before[i].data) << after[i].name;
}

TEST(ParametersTest, FileRoundTrip) {
  TempDir dir;
  const std::string path = dir.File("model.mrmt");
  auto a = MustCreate(Small());
  ModelConfig other_seed = Small();
  other_seed.init_seed = 9;
  auto b = MustCreate(other_seed);
  ASSERT_TRUE(SaveModelParameters(*a, path).ok());
  ASSERT_TRUE(LoadModelParameters(*b, path).ok());
  const TensorList pa = GetParameters(*a), pb = GetParameters(*b);
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].data, pb[i].data);
  // Overwriting is atomic and leaves no temporary files behind.
  ASSERT_TRUE(SaveModelParameters(*b, path).ok());
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.File(""))) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(ParametersTest, CorruptMissingOrForeignFilesAreClearErrors) {
  TempDir dir;
  const std::string path = dir.File("model.mrmt");
  auto model = MustCreate(Small());
  ASSERT_TRUE(SaveModelParameters(*model, path).ok());
  const TensorList before = GetParameters(*model);

  {  // flip one byte in the middle of the values
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(path) / 2));
    f.put('\x5a');
  }
  Status st = LoadModelParameters(*model, path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();

  std::filesystem::resize_file(path, 100);
  st = LoadModelParameters(*model, path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();

  st = LoadModelParameters(*model, dir.File("absent.mrmt"));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("absent.mrmt"), std::string::npos);

  ModelConfig bigger = Small();
  bigger.dim = 32;
  ASSERT_TRUE(SaveModelParameters(*MustCreate(bigger), path).ok());
  st = LoadModelParameters(*model, path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();

  const TensorList after = GetParameters(*model);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].data, before[i].data);

  EXPECT_FALSE(WriteTensorFile(dir.File("no/such/dir/x.mrmt"), before).ok());
}

}  // namespace
}  // namespace murmur::model
