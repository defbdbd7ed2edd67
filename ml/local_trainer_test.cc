// LocalTrainer: a federated update has the model's spec and K steps, is
// deterministic given the Rng, is trained - global, trains; the NaN guard
// fires; evaluation works on a tiny set; bad inputs are clear errors.
#include "ml/local_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>


namespace murmur::trainer {
namespace {

// 8x8 images of 2 classes: class 0 bright on top, class 1 bright at the bottom.
data::ImageDataset TwoClassImages(size_t n, uint64_t seed) {
  Rng rng(seed);
  data::ImageDataset d;
  d.rows = 8;
  d.cols = 8;
  d.num_classes = 2;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t label = static_cast<uint8_t>(i % 2);
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        const bool bright = (r < 4) == (label == 0);
        d.pixels.push_back(static_cast<uint8_t>((bright ? 150 : 0) + rng.UniformInt(100)));
      }
    }
    d.labels.push_back(label);
  }
  return d;
}

model::ModelConfig TinyConfig() {
  model::ModelConfig c;
  c.dim = 16;
  c.heads = 2;
  c.depth = 1;
  c.mlp_ratio = 2;
  c.image_rows = 8;
  c.image_cols = 8;
  c.patch = 4;
  c.num_classes = 2;
  return c;
}

std::vector<uint32_t> Range(uint32_t n) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

std::unique_ptr<LocalTrainer> MustCreate(const model::ModelConfig& c, const TrainOptions& o) {
  auto t = LocalTrainer::Create(c, o);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(LocalTrainerTest, UpdateHasTheSpecAndKStepsAndIsDeterministic) {
  const data::ImageDataset d = TwoClassImages(64, 1);
  const model::Examples ex = model::Examples::Images(d);
  TrainOptions o;
  o.batch_size = 8;
  o.lr = 0.05;
  auto trainer = MustCreate(TinyConfig(), o);
  ASSERT_NE(trainer, nullptr);
  EXPECT_EQ(trainer->device(), "cpu");
  const TensorList global = trainer->GetParameters();
  const std::vector<uint32_t> shard = {1, 3, 5, 7, 9, 10, 11, 12, 13, 20, 30, 40};

  Rng rng_a(42), rng_b(42);
  Result<LocalUpdate> a = trainer->Train(global, ex, shard, 5, rng_a);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(CheckMatchesSpec(a->delta, trainer->spec()).ok());
  EXPECT_EQ(a->local_steps, 5);
  EXPECT_EQ(a->samples, 40);
  EXPECT_DOUBLE_EQ(a->local_lr, 0.05);
  EXPECT_GT(a->mean_loss, 0.0);
  EXPECT_GE(a->wall_seconds, 0.0);
  double norm = 0;
  for (const Tensor& t : a->delta) {
    for (float v : t.data) {
      ASSERT_TRUE(std::isfinite(v));
      norm += double(v) * v;
    }
  }
  EXPECT_GT(norm, 0.0);

  Result<LocalUpdate> b = trainer->Train(global, ex, shard, 5, rng_b);
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < a->delta.size(); ++i) EXPECT_EQ(a->delta[i].data, b->delta[i].data);

  Result<TensorList> g = StepNormalizedUpdate(*a);
  ASSERT_TRUE(g.ok());
  EXPECT_FLOAT_EQ(g->back().data[0], -a->delta.back().data[0] / (0.05f * 5));
  LocalUpdate zero_k = *a;
  zero_k.local_steps = 0;
  EXPECT_FALSE(StepNormalizedUpdate(zero_k).ok());
}

// The delta is trained - global (ALGORITHMS: a client sends x_local - x), so
// global + delta is the model the client trained, to float rounding. A flipped
// sign (global - trained) moves every weight the wrong way and fails here.
TEST(LocalTrainerTest, GlobalPlusDeltaIsTheTrainedModel) {
  const data::ImageDataset d = TwoClassImages(64, 2);
  const model::Examples ex = model::Examples::Images(d);
  TrainOptions o;
  o.batch_size = 8;
  o.lr = 0.1;
  auto trainer = MustCreate(TinyConfig(), o);
  ASSERT_NE(trainer, nullptr);
  const TensorList global = trainer->GetParameters();
  Rng rng(7);
  Result<LocalUpdate> u = trainer->Train(global, ex, Range(64), 6, rng);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  const TensorList trained = trainer->GetParameters();
  ASSERT_EQ(SpecOf(trained), SpecOf(u->delta));

  int64_t moved = 0;  // weights whose step is far above the rounding tolerance
  for (size_t i = 0; i < trained.size(); ++i) {
    const std::vector<float>& x = global[i].data;
    const std::vector<float>& delta = u->delta[i].data;
    const std::vector<float>& y = trained[i].data;
    for (size_t j = 0; j < y.size(); ++j) {
      // delta = fl(y - x), then fl(x + delta): two roundings, each within half
      // an ulp of a value no larger than 2 max(|x|, |y|).
      const float tol = 4 * std::numeric_limits<float>::epsilon() *
                        std::max({std::abs(x[j]), std::abs(y[j]), 1e-30f});
      ASSERT_NEAR(x[j] + delta[j], y[j], tol)
          << trained[i].name << "[" << j << "]: global " << x[j] << ", delta " << delta[j];
      if (std::abs(delta[j]) > 100 * tol) ++moved;
    }
  }
  // Most weights moved by far more than the tolerance, so a sign flip cannot
  // hide in the rounding.
  EXPECT_GT(moved, TotalElements(trained) / 2);
}

TEST(LocalTrainerTest, TrainingImprovesHeldOutAccuracy) {
  const data::ImageDataset d = TwoClassImages(200, 2);
  const model::Examples ex = model::Examples::Images(d);
  TrainOptions o;
  o.optimizer = OptimizerKind::kAdam;
  o.lr = 3e-3;
  o.batch_size = 16;
  auto trainer = MustCreate(TinyConfig(), o);
  ASSERT_NE(trainer, nullptr);
  const std::vector<uint32_t> all = Range(200);
  const std::span<const uint32_t> train(all.data(), 150), test(all.data() + 150, 50);
  const TensorList global = trainer->GetParameters();
  Rng rng(3);
  Result<LocalUpdate> u = trainer->Train(global, ex, train, 60, rng);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  Result<EvalResult> after = trainer->EvaluateCurrent(ex, test);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->examples, 50);
  EXPECT_GE(after->accuracy, 0.9);
  Result<EvalResult> before = trainer->Evaluate(global, ex, test);
  ASSERT_TRUE(before.ok());
  EXPECT_GE(before->accuracy, 0.0);
  EXPECT_LE(before->accuracy, 1.0);
  EXPECT_GT(before->loss, after->loss);
}

TEST(LocalTrainerTest, NanGuardStopsADivergingJob) {
  const data::ImageDataset d = TwoClassImages(32, 3);
  const model::Examples ex = model::Examples::Images(d);
  TrainOptions o;
  o.lr = 1e10;
  o.batch_size = 8;
  auto trainer = MustCreate(TinyConfig(), o);
  ASSERT_NE(trainer, nullptr);
  Rng rng(4);
  Result<LocalUpdate> u = trainer->Train(trainer->GetParameters(), ex, Range(32), 20, rng);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kAborted) << u.status().ToString();
  EXPECT_NE(u.status().message().find("diverged"), std::string::npos) << u.status().message();
}

TEST(LocalTrainerTest, BadInputsAreClearErrors) {
  const data::ImageDataset d = TwoClassImages(16, 5);
  const model::Examples ex = model::Examples::Images(d);
  auto trainer = MustCreate(TinyConfig(), TrainOptions{});
  ASSERT_NE(trainer, nullptr);
  TensorList global = trainer->GetParameters();
  Rng rng(6);
  const std::vector<uint32_t> bad_shard = {0, 99};
  Result<LocalUpdate> u = trainer->Train(global, ex, bad_shard, 2, rng);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("99"), std::string::npos);
  EXPECT_FALSE(trainer->Train(global, ex, Range(16), 0, rng).ok());
  EXPECT_FALSE(trainer->Train(global, ex, {}, 2, rng).ok());
  global.pop_back();
  u = trainer->Train(global, ex, Range(16), 2, rng);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kFailedPrecondition);

  const data::ImageDataset wrong_size = [] {
    data::ImageDataset w;
    w.rows = w.cols = 4;
    w.num_classes = 2;
    w.pixels.assign(16, 0);
    w.labels = {1};
    return w;
  }();
  Result<EvalResult> e =
      trainer->EvaluateCurrent(model::Examples::Images(wrong_size), std::vector<uint32_t>{0});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("4x4"), std::string::npos);

  TrainOptions bad;
  bad.lr = -1;
  EXPECT_FALSE(LocalTrainer::Create(TinyConfig(), bad).ok());
  bad = TrainOptions{};
  bad.device = "tpu";
  EXPECT_FALSE(LocalTrainer::Create(TinyConfig(), bad).ok());
}

TEST(LocalTrainerTest, LearningRateSchedule) {
  TrainOptions o;
  o.lr = 1.0;
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 100), 1.0);
  o.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 3), 1.0);
  o.schedule = LrSchedule::kCosine;
  o.total_steps = 100;
  EXPECT_NEAR(LearningRateAt(o, 50), 0.5, 1e-12);
  EXPECT_NEAR(LearningRateAt(o, 100), 0.0, 1e-12);
  EXPECT_TRUE(ParseOptimizer("adamw").ok());
  EXPECT_FALSE(ParseOptimizer("lion").ok());
}

}  // namespace
}  // namespace murmur::trainer
