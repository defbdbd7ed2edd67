// The linear-attention transformer: every attention variant runs forward and
// backward with finite gradients, the kernel ops agree with the ATen
// reference inside the model, training steps lower the loss, and
// initialization is deterministic.
#include "ml/model.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include <string>
#include <tuple>
#include <vector>

#include "ml/parameters.h"

namespace murmur::model {
namespace {

// 16x16 images in 2x2 patches: 64 tokens, more than one kernel chunk.
ModelConfig SmallImageConfig() {
  ModelConfig c;
  c.dim = 16;
  c.heads = 2;
  c.depth = 2;
  c.mlp_ratio = 2;
  c.image_rows = 16;
  c.image_cols = 16;
  c.patch = 2;
  c.num_classes = 3;
  return c;
}

std::shared_ptr<Model> MustCreate(const ModelConfig& c) {
  Result<std::shared_ptr<Model>> m = CreateModel(c);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

// (feature map, decay, output normalization); the elu1 and hedgehog
// variants also use the output gate.
using Variant = std::tuple<FeatureMap, Decay, AttnNorm>;

bool WithGate(FeatureMap map) { return map == FeatureMap::kElu1 || map == FeatureMap::kHedgehog; }
// The relu variants (and identity with gla) attend in both directions.
bool Bidirectional(FeatureMap map, Decay decay) {
  return map == FeatureMap::kRelu || (map == FeatureMap::kIdentity && decay == Decay::kGla);
}

class ModelVariantTest : public ::testing::TestWithParam<Variant> {};

TEST_P(ModelVariantTest, ForwardBackwardGivesFiniteGradients) {
  auto [map, decay, norm] = GetParam();
  ModelConfig c = SmallImageConfig();
  c.feature_map = map;
  c.decay = decay;
  c.attn_norm = norm;
  c.output_gate = WithGate(map);
  c.bidirectional = Bidirectional(map, decay);
  auto model = MustCreate(c);
  ASSERT_NE(model, nullptr);
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({3, 16, 16});
  const torch::Tensor y = torch::tensor({0, 1, 2}, torch::kLong);
  const torch::Tensor logits = model->forward(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 3}));
  const torch::Tensor loss = model->Loss(logits, y);
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(at::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  // The same parameters through the ATen reference give the same logits.
  model->SetAttentionImpl(AttentionImpl::kReference);
  const torch::Tensor ref = model->forward(x);
  EXPECT_LT((ref - logits).abs().max().item<double>(), 1e-4 * (1 + logits.abs().max().item<double>()))
      << DescribeModel(*model);
}

std::string VariantName(const ::testing::TestParamInfo<Variant>& info) {
  auto [map, decay, norm] = info.param;
  return std::string(FeatureMapName(map)) + "_" + std::string(DecayName(decay)) + "_" +
         std::string(AttnNormName(norm)) + (WithGate(map) ? "_gate" : "") +
         (Bidirectional(map, decay) ? "_bidi" : "");
}

// Every combination except denominator with the identity map (rejected by
// ValidateModelConfig).
std::vector<Variant> AllVariants() {
  std::vector<Variant> out;
  for (FeatureMap map : {FeatureMap::kIdentity, FeatureMap::kElu1, FeatureMap::kRelu,
                         FeatureMap::kHedgehog}) {
    for (Decay decay : {Decay::kNone, Decay::kFixed, Decay::kScalar, Decay::kGla}) {
      for (AttnNorm norm : {AttnNorm::kRms, AttnNorm::kDenominator}) {
        if (norm == AttnNorm::kDenominator && map == FeatureMap::kIdentity) continue;
        out.emplace_back(map, decay, norm);
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, ModelVariantTest, ::testing::ValuesIn(AllVariants()),
                         VariantName);

TEST(ModelTest, FusedRmsNormMatchesTheAtenForm) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({5, 7, 24}, torch::kDouble);
  const torch::Tensor w = torch::randn({24}, torch::kDouble);
  const torch::Tensor gy = torch::randn({5, 7, 24}, torch::kDouble);
  // fp64 takes the ATen composite path: the reference.
  torch::Tensor x64 = x.clone().requires_grad_(true), w64 = w.clone().requires_grad_(true);
  RmsNormOp(x64, w64, 1e-6).backward(gy);
  torch::Tensor x32 = x.to(torch::kFloat).requires_grad_(true);
  torch::Tensor w32 = w.to(torch::kFloat).requires_grad_(true);
  const torch::Tensor y32 = RmsNormOp(x32, w32, 1e-6);
  y32.backward(gy.to(torch::kFloat));
  const torch::Tensor y64 = RmsNormOp(x, w, 1e-6);
  EXPECT_LT((y32.to(torch::kDouble) - y64).abs().max().item<double>(), 1e-5);
  EXPECT_LT((x32.grad().to(torch::kDouble) - x64.grad()).abs().max().item<double>(), 1e-4);
  EXPECT_LT((w32.grad().to(torch::kDouble) - w64.grad()).abs().max().item<double>(), 1e-4);
}

TEST(ModelTest, CharLmPredictsEveryPosition) {
  ModelConfig c = DefaultCharLmConfig(11);
  c.dim = 16;
  c.heads = 2;
  c.max_seq_len = 40;
  auto model = MustCreate(c);
  ASSERT_NE(model, nullptr);
  const torch::Tensor x = torch::randint(0, 11, {2, 33}, torch::kLong);
  const torch::Tensor logits = model->forward(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 33, 11}));
  model->Loss(logits, x).backward();
  // Causal: changing the last token changes nothing before it.
  torch::Tensor x2 = x.clone();
  x2[0][32] = (x[0][32].item<int64_t>() + 1) % 11;
  const torch::Tensor logits2 = model->forward(x2);
  EXPECT_TRUE(torch::allclose(logits.narrow(1, 0, 32), logits2.narrow(1, 0, 32)));
  EXPECT_THROW(model->forward(torch::zeros({1, 41}, torch::kLong)), c10::Error);
}

TEST(ModelTest, DefaultImageModelIsSmall) {
  auto model = MustCreate(DefaultImageConfig());
  ASSERT_NE(model, nullptr);
  EXPECT_LE(NumParameters(*model), 1'000'000);
  EXPECT_EQ(model->forward(torch::zeros({2, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(model->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_THROW(model->forward(torch::zeros({2, 27, 28})), c10::Error);
}

TEST(ModelTest, InitializationIsDeterministic) {
  ModelConfig c = SmallImageConfig();
  c.feature_map = FeatureMap::kHedgehog;
  c.decay = Decay::kGla;
  const TensorList a = GetParameters(*MustCreate(c));
  const TensorList b = GetParameters(*MustCreate(c));
  c.init_seed = 1;
  const TensorList other = GetParameters(*MustCreate(c));
  ASSERT_EQ(a.size(), b.size());
  bool any_differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].data, b[i].data) << a[i].name;
    any_differs = any_differs || a[i].data != other[i].data;
  }
  EXPECT_TRUE(any_differs);
  EXPECT_FALSE(CreateModel(ModelConfig{.dim = 10, .heads = 4}).ok());
}

TEST(ModelTest, AFewStepsLowerTheLossOnAFixedBatch) {
  auto model = MustCreate(SmallImageConfig());
  ASSERT_NE(model, nullptr);
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({16, 16, 16});
  const torch::Tensor y = torch::randint(0, 3, {16}, torch::kLong);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    torch::Tensor loss = model->Loss(model->forward(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace murmur::model
