// Tests for the partitioners, LabelHistogram and the partition summary.
#include "common/data/partitioners.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/data/fashion_mnist.h"
#include "common/data/partition.h"
#include "common/rng.h"

namespace murmur::data {
namespace {

constexpr int kClasses = 10;

// 10 classes x 600 samples, in a shuffled order.
std::vector<uint8_t> BalancedLabels(size_t per_class = 600) {
  std::vector<uint8_t> labels;
  for (size_t i = 0; i < per_class * kClasses; ++i) labels.push_back(static_cast<uint8_t>(i % kClasses));
  Rng rng(99);
  rng.Shuffle(labels);
  return labels;
}

PartitionStats Stats(const Partition& p, const std::vector<uint8_t>& labels) {
  Result<LabelCounts> counts = LabelHistogram(p, labels, kClasses);
  EXPECT_TRUE(counts.ok()) << counts.status().ToString();
  return ComputePartitionStats(*counts);
}

using Maker = Result<Partition> (*)(const std::vector<uint8_t>&, Rng&);

struct SchemeCase {
  const char* name;
  Maker make;
};

const SchemeCase kSchemes[] = {
    {"iid", [](const std::vector<uint8_t>& l, Rng& r) { return PartitionIid(l.size(), 20, r); }},
    {"dirichlet0.1",
     [](const std::vector<uint8_t>& l, Rng& r) {
       return PartitionDirichlet(l, kClasses, 20, 0.1, 5, r);
     }},
    {"dirichlet100",
     [](const std::vector<uint8_t>& l, Rng& r) {
       return PartitionDirichlet(l, kClasses, 20, 100.0, 1, r);
     }},
    {"shards", [](const std::vector<uint8_t>& l, Rng& r) { return PartitionShards(l, 20, 2, r); }},
    {"shards_unaligned",
     [](const std::vector<uint8_t>& l, Rng& r) { return PartitionShards(l, 7, 3, r); }},
};

TEST(PartitionersTest, EverySchemeCoversEachSampleOnceAndIsDeterministic) {
  const std::vector<uint8_t> labels = BalancedLabels();
  for (const SchemeCase& s : kSchemes) {
    SCOPED_TRACE(s.name);
    Rng a(7), b(7), c(8);
    Result<Partition> pa = s.make(labels, a);
    Result<Partition> pb = s.make(labels, b);
    Result<Partition> pc = s.make(labels, c);
    ASSERT_TRUE(pa.ok()) << pa.status().ToString();
    ASSERT_TRUE(pb.ok() && pc.ok());
    EXPECT_TRUE(ValidatePartition(*pa, labels.size()).ok());
    EXPECT_TRUE(ValidatePartition(*pc, labels.size()).ok());
    EXPECT_EQ(*pa, *pb) << "same seed, different partition";
    EXPECT_NE(*pa, *pc) << "different seeds, same partition";
    for (const auto& client : *pa) {
      EXPECT_TRUE(std::is_sorted(client.begin(), client.end()));
    }
  }
}

TEST(PartitionersTest, IidIsBalanced) {
  const std::vector<uint8_t> labels = BalancedLabels();
  Rng rng(1);
  Result<Partition> p = PartitionIid(labels.size() + 3, 7, rng);
  ASSERT_TRUE(p.ok());
  for (const auto& client : *p) {
    EXPECT_GE(client.size(), (labels.size() + 3) / 7);
    EXPECT_LE(client.size(), (labels.size() + 3) / 7 + 1);
  }
  p = PartitionIid(labels.size(), 10, rng);
  ASSERT_TRUE(p.ok());
  const PartitionStats s = Stats(*p, labels);
  EXPECT_EQ(s.min_labels, 10u);
  EXPECT_LT(s.mean_label_tv, 0.1);
  EXPECT_FALSE(PartitionIid(5, 6, rng).ok());
  EXPECT_FALSE(PartitionIid(5, 0, rng).ok());
}

TEST(PartitionersTest, DirichletSkewFollowsAlpha) {
  const std::vector<uint8_t> labels = BalancedLabels(1000);
  Rng rng(3);
  Result<Partition> skewed = PartitionDirichlet(labels, kClasses, 20, 0.1, 1, rng);
  Result<Partition> flat = PartitionDirichlet(labels, kClasses, 20, 100.0, 1, rng);
  ASSERT_TRUE(skewed.ok() && flat.ok());
  const PartitionStats s = Stats(*skewed, labels), f = Stats(*flat, labels);
  std::printf("alpha=0.1: top share %.3f, TV %.3f, labels/client %.2f\n", s.mean_top_label_share,
              s.mean_label_tv, s.mean_labels);
  std::printf("alpha=100: top share %.3f, TV %.3f, labels/client %.2f\n", f.mean_top_label_share,
              f.mean_label_tv, f.mean_labels);
  EXPECT_GT(s.mean_top_label_share, 0.5);
  EXPECT_GT(s.mean_label_tv, 0.5);
  EXPECT_LT(f.mean_top_label_share, 0.2);
  EXPECT_LT(f.mean_label_tv, 0.1);
  EXPECT_EQ(f.min_labels, 10u);
  // Near-uniform sizes too: each client ~500.
  EXPECT_GT(f.min_size, 350u);
  EXPECT_LT(f.max_size, 650u);
}

TEST(PartitionersTest, DirichletGuaranteesTheMinimumPerClient) {
  const std::vector<uint8_t> labels = BalancedLabels();
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng rng(seed);
    Result<Partition> p = PartitionDirichlet(labels, kClasses, 200, 0.01, 20, rng);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE(ValidatePartition(*p, labels.size()).ok());
    for (const auto& client : *p) EXPECT_GE(client.size(), 20u);
  }
  Rng rng(1);
  // Exactly enough samples: every client gets exactly the minimum.
  Result<Partition> tight = PartitionDirichlet(labels, kClasses, 300, 0.05, 20, rng);
  ASSERT_TRUE(tight.ok());
  for (const auto& client : *tight) EXPECT_EQ(client.size(), 20u);
  EXPECT_FALSE(PartitionDirichlet(labels, kClasses, 301, 0.05, 20, rng).ok());
  EXPECT_FALSE(PartitionDirichlet(labels, kClasses, 10, 0.0, 1, rng).ok());
  EXPECT_FALSE(PartitionDirichlet(labels, 5, 10, 1.0, 1, rng).ok());  // label 9 >= 5
}

TEST(PartitionersTest, TwoShardsGiveAtMostTwoLabels) {
  const std::vector<uint8_t> labels = BalancedLabels();
  Rng rng(11);
  Result<Partition> p = PartitionShards(labels, 100, 2, rng);
  ASSERT_TRUE(p.ok());
  const PartitionStats s = Stats(*p, labels);
  EXPECT_LE(s.max_labels, 2u);
  EXPECT_EQ(s.min_size, 60u);
  EXPECT_EQ(s.max_size, 60u);
  // Unaligned shards straddle at most one label boundary each.
  p = PartitionShards(labels, 30, 2, rng);
  ASSERT_TRUE(p.ok());
  EXPECT_LE(Stats(*p, labels).max_labels, 4u);
  EXPECT_FALSE(PartitionShards(labels, 3001, 2, rng).ok());
  EXPECT_FALSE(PartitionShards(labels, 10, 0, rng).ok());
}

TEST(PartitionersTest, NaturalFollowsSources) {
  const std::vector<uint32_t> source = {2, 0, 2, 2, 0};
  Result<Partition> p = PartitionNatural(source, 4);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (Partition{{1, 4}, {}, {0, 2, 3}, {}}));
  Result<LabelCounts> counts = LabelHistogram(*p, source, 4);
  ASSERT_TRUE(counts.ok());
  const PartitionStats s = ComputePartitionStats(*counts);
  EXPECT_EQ(s.empty_clients, 2u);
  EXPECT_EQ(s.max_labels, 1u);
  EXPECT_FALSE(PartitionNatural(source, 2).ok());
}

TEST(PartitionTest, ValidateCatchesDuplicatesGapsAndStrays) {
  EXPECT_TRUE(ValidatePartition({{0, 2}, {1}}, 3).ok());
  Status dup = ValidatePartition({{0, 1}, {1, 2}}, 3);
  EXPECT_NE(dup.message().find("sample 1 is held twice"), std::string::npos) << dup.message();
  Status gap = ValidatePartition({{0}, {2}}, 3);
  EXPECT_NE(gap.message().find("first: 1"), std::string::npos) << gap.message();
  EXPECT_FALSE(ValidatePartition({{0, 3}}, 3).ok());
}

TEST(PartitionTest, HistogramAndSummary) {
  const std::vector<uint8_t> labels = {0, 1, 1, 2, 2, 2};
  const Partition p = {{0, 1}, {2, 3, 4, 5}};
  Result<LabelCounts> counts = LabelHistogram(p, labels, 3);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (LabelCounts{{1, 1, 0}, {0, 1, 3}}));
  const std::string summary = SummarizePartition(*counts, 1);
  EXPECT_NE(summary.find("2 clients, 6 samples, 3 labels"), std::string::npos) << summary;
  EXPECT_NE(summary.find(" 0:1 1:1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("1 more clients"), std::string::npos) << summary;
  EXPECT_FALSE(LabelHistogram(p, labels, 2).ok());                           // label 2
  EXPECT_FALSE(LabelHistogram({{6}}, labels, 3).ok());                       // index 6
}

TEST(PartitionersTest, MakePartitionDispatchesByName) {
  const std::vector<uint8_t> labels = BalancedLabels();
  for (const char* name : {"iid", "dirichlet", "shards"}) {
    Result<PartitionScheme> scheme = ParsePartitionScheme(name);
    ASSERT_TRUE(scheme.ok());
    EXPECT_EQ(PartitionSchemeName(*scheme), name);
    PartitionSpec spec;
    spec.scheme = *scheme;
    spec.num_clients = 12;
    Rng rng(5);
    Result<Partition> p = MakePartition(spec, labels, kClasses, rng);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->size(), 12u);
    EXPECT_TRUE(ValidatePartition(*p, labels.size()).ok());
  }
  PartitionSpec natural;
  natural.scheme = PartitionScheme::kNatural;
  natural.num_clients = 0;
  Rng rng(5);
  Result<Partition> p = MakePartition(natural, labels, kClasses, rng);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size(), 10u);
  natural.num_clients = 3;
  EXPECT_FALSE(MakePartition(natural, labels, kClasses, rng).ok());
  EXPECT_FALSE(ParsePartitionScheme("pathological").ok());
}

TEST(PartitionersTest, RealFashionMnistShardsAndDirichlet) {
  if (!std::filesystem::exists(FashionMnistLabelsPath(kDefaultFashionMnistDir, Split::kTrain))) {
    GTEST_SKIP() << "Fashion-MNIST not installed";
  }
  Result<ImageDataset> train = LoadFashionMnist(kDefaultFashionMnistDir, Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  Rng rng(2024);
  Result<Partition> shards = PartitionShards(train->labels, 100, 2, rng);
  ASSERT_TRUE(shards.ok());
  EXPECT_TRUE(ValidatePartition(*shards, train->size()).ok());
  Result<LabelCounts> counts = LabelHistogram(*shards, train->labels, 10);
  ASSERT_TRUE(counts.ok());
  EXPECT_LE(ComputePartitionStats(*counts).max_labels, 2u);

  Result<Partition> dir = PartitionDirichlet(train->labels, 10, 100, 0.1, 10, rng);
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(ValidatePartition(*dir, train->size()).ok());
  counts = LabelHistogram(*dir, train->labels, 10);
  ASSERT_TRUE(counts.ok());
  EXPECT_GE(ComputePartitionStats(*counts).min_size, 10u);
  std::printf("Fashion-MNIST train, Dirichlet(0.1), 100 clients:\n%s",
              SummarizePartition(*counts, 5).c_str());
}

}  // namespace
}  // namespace murmur::data
