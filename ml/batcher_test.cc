#include "ml/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "ml/batch_sampler.h"

namespace murmur::model {
namespace {

data::ImageDataset TinyImages() {
  data::ImageDataset d;
  d.rows = 2;
  d.cols = 3;
  d.num_classes = 10;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 6; ++j) d.pixels.push_back(static_cast<uint8_t>(i * 60 + j));
    d.labels.push_back(static_cast<uint8_t>(9 - i));
  }
  return d;
}

TEST(BatcherTest, ImagesAreNormalizedWithLabels) {
  const data::ImageDataset d = TinyImages();
  const Examples ex = Examples::Images(d, {.mean = 0.5f, .stddev = 0.25f});
  const std::vector<uint32_t> idx = {2, 0};
  const Batch b = MakeBatch(ex, idx);
  ASSERT_EQ(b.size, 2);
  EXPECT_EQ(b.input.sizes(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(b.target.sizes(), (std::vector<int64_t>{2}));
  EXPECT_EQ(b.target[0].item<int64_t>(), 7);
  EXPECT_EQ(b.target[1].item<int64_t>(), 9);
  const float p = 120 + 4;  // image 2, pixel (1, 1)
  EXPECT_FLOAT_EQ(b.input[0][1][1].item<float>(), (p / 255.0f - 0.5f) / 0.25f);
  EXPECT_FLOAT_EQ(b.input[1][0][0].item<float>(), (0.0f - 0.5f) / 0.25f);
}

TEST(BatcherTest, TextTargetsAreTheNextTokens) {
  data::TextDataset text;
  text.vocab = data::Vocabulary::FromCodePoints(U"abcdefgh");
  text.tokens = text.vocab.Encode(U"abcdefgh");
  text.sources.push_back({"t", "t", 0, text.tokens.size()});
  Result<data::TextChunks> chunks = data::ChunkText(text, 4);
  ASSERT_TRUE(chunks.ok());
  const Examples ex = Examples::Text(text, *chunks);
  ASSERT_EQ(ex.size(), 2u);
  const std::vector<uint32_t> idx = {1};
  const Batch b = MakeBatch(ex, idx);
  EXPECT_EQ(b.input.sizes(), (std::vector<int64_t>{1, 3}));
  // chunk 1 = "efgh": input "efg", target "fgh".
  EXPECT_EQ(b.input[0][0].item<int64_t>(), text.vocab.Id(U'e'));
  EXPECT_EQ(b.target[0][0].item<int64_t>(), text.vocab.Id(U'f'));
  EXPECT_EQ(b.target[0][2].item<int64_t>(), text.vocab.Id(U'h'));

  ModelConfig c = DefaultCharLmConfig(static_cast<int64_t>(text.vocab.size()));
  EXPECT_TRUE(ex.CheckFits(c).ok());
  c.max_seq_len = 2;
  EXPECT_FALSE(ex.CheckFits(c).ok());
  c = DefaultImageConfig();
  EXPECT_FALSE(ex.CheckFits(c).ok());
}

TEST(BatcherTest, ExamplesCheckFitAndIndices) {
  const data::ImageDataset d = TinyImages();
  const Examples ex = Examples::Images(d);
  ModelConfig c = DefaultImageConfig();
  Status st = ex.CheckFits(c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2x3"), std::string::npos) << st.message();
  c.image_rows = 2;
  c.image_cols = 3;
  c.patch = 1;
  EXPECT_TRUE(ex.CheckFits(c).ok());
  const std::vector<uint32_t> bad = {0, 4};
  st = ex.CheckIndices(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("example index 4"), std::string::npos) << st.message();
}

TEST(BatchSamplerTest, PassesCoverTheShardWithoutRepeats) {
  std::vector<uint32_t> shard(10);
  for (uint32_t i = 0; i < 10; ++i) shard[i] = 100 + i;
  BatchSampler a(shard, Rng(7)), b(shard, Rng(7)), c(shard, Rng(8));
  std::multiset<uint32_t> seen;
  bool differs = false;
  for (int step = 0; step < 3; ++step) {
    auto x = a.Next(3);
    auto y = b.Next(3);
    auto z = c.Next(3);
    ASSERT_EQ(x.size(), 3u);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin()));
    differs = differs || !std::equal(x.begin(), x.end(), z.begin());
    seen.insert(x.begin(), x.end());
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(std::set<uint32_t>(seen.begin(), seen.end()).size(), 9u);  // 9 distinct of 10
  EXPECT_EQ(a.passes(), 0u);
  a.Next(3);  // 1 left in the pass: a new permutation
  EXPECT_EQ(a.passes(), 1u);
  EXPECT_EQ(a.Next(50).size(), 10u);  // cut to the shard
}

}  // namespace
}  // namespace murmur::model
