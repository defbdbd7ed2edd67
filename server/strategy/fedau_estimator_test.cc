#include "server/strategy/fedau_estimator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/rng.h"

namespace murmur::server::strategy {
namespace {

constexpr uint64_t kInf = 0;

// Runs one client through a participation sequence (1 = took part).
FedAuCounter RunSequence(const std::vector<int>& q, uint64_t k_cut, FedAuCounter c = {}) {
  for (int x : q) c = FedAuObserve(c, x == 1, k_cut);
  return c;
}

TEST(FedAuEstimatorStrategyTest, WeightIsOneBeforeTheFirstInterval) {
  EXPECT_DOUBLE_EQ(FedAuWeight(FedAuCounter{}), 1.0);
  // Absent for 30 rounds with no cut: still no interval, still weight 1.
  FedAuCounter c = RunSequence(std::vector<int>(30, 0), kInf);
  EXPECT_EQ(c.intervals, 0u);
  EXPECT_EQ(c.absent_run, 30u);
  EXPECT_DOUBLE_EQ(FedAuWeight(c), 1.0);
  EXPECT_DOUBLE_EQ(FedAuWeightOf({}, 7), 1.0);  // unknown client
}

TEST(FedAuEstimatorStrategyTest, KnownSequenceGivesTheMeanInterval) {
  // Participates in rounds 2, 5, 6: intervals 2, 3, 1.
  FedAuCounter c = RunSequence({0, 1, 0, 0, 1, 1}, kInf);
  EXPECT_EQ(c.intervals, 3u);
  EXPECT_EQ(c.interval_sum, 6u);
  EXPECT_EQ(c.absent_run, 0u);
  EXPECT_DOUBLE_EQ(FedAuWeight(c), 2.0);
  // Then absent twice: nothing recorded yet, the weight stays.
  c = RunSequence({0, 0}, kInf, c);
  EXPECT_EQ(c.absent_run, 2u);
  EXPECT_DOUBLE_EQ(FedAuWeight(c), 2.0);
  // Every round: weight 1.
  EXPECT_DOUBLE_EQ(FedAuWeight(RunSequence(std::vector<int>(10, 1), 50)), 1.0);
}

double BernoulliWeight(double p, uint64_t rounds, uint64_t k_cut, uint64_t seed) {
  Rng rng(seed);
  FedAuCounter c;
  for (uint64_t t = 0; t < rounds; ++t) c = FedAuObserve(c, rng.Bernoulli(p), k_cut);
  return FedAuWeight(c);
}

TEST(FedAuEstimatorStrategyTest, WeightApproachesOneOverPUnderBernoulli) {
  // p = 0.2, 20000 rounds: about 4000 intervals, standard error of the mean ~1.4%.
  for (uint64_t k_cut : {kInf, uint64_t{50}}) {
    const double w = BernoulliWeight(0.2, 20000, k_cut, 17);
    EXPECT_NEAR(w, 5.0, 0.2) << "k_cut " << k_cut;
  }
  EXPECT_NEAR(BernoulliWeight(0.5, 20000, kInf, 3), 2.0, 0.06);
  EXPECT_NEAR(BernoulliWeight(0.05, 100000, kInf, 5), 20.0, 0.8);
}

TEST(FedAuEstimatorStrategyTest, CutBoundsTheWeightForRareClients) {
  // p = 0.01: 1/p = 100, but with K_cut = 50 the estimate is
  // E[min(Geometric(p), 50)] = (1 - 0.99^50) / 0.01 ~= 39.5, and never above 50.
  const double expected = (1.0 - std::pow(0.99, 50)) / 0.01;
  const double w = BernoulliWeight(0.01, 200000, 50, 9);
  EXPECT_NEAR(w, expected, 0.03 * expected);
  EXPECT_LE(w, 50.0);
  EXPECT_GE(w, 1.0);
}

TEST(FedAuEstimatorStrategyTest, AbsentFor120RoundsWithCut50) {
  std::vector<int> q(120, 0);
  q.push_back(1);
  FedAuCounter c;
  for (size_t t = 0; t < q.size(); ++t) {
    c = FedAuObserve(c, q[t] == 1, 50);
    if (t + 1 == 49) {
      EXPECT_EQ(c.intervals, 0u);
    }
    if (t + 1 == 50) {
      // The 50th absent round records an interval of K_cut and restarts M.
      EXPECT_EQ(c.intervals, 1u);
      EXPECT_EQ(c.absent_run, 0u);
      EXPECT_DOUBLE_EQ(FedAuWeight(c), 50.0);
    }
  }
  // Intervals 50, 50 (rounds 1-100), then M = 20 and the participation
  // records 21.
  EXPECT_EQ(c.intervals, 3u);
  EXPECT_EQ(c.interval_sum, 121u);
  EXPECT_EQ(c.absent_run, 0u);
  EXPECT_DOUBLE_EQ(FedAuWeight(c), 121.0 / 3.0);

  // Without a cut the same sequence is one interval of 121.
  FedAuCounter inf = RunSequence(q, kInf);
  EXPECT_EQ(inf.intervals, 1u);
  EXPECT_DOUBLE_EQ(FedAuWeight(inf), 121.0);
}

TEST(FedAuEstimatorStrategyTest, WeightStaysWithinOneAndCut) {
  Rng rng(4);
  FedAuCounter c;
  for (int t = 0; t < 5000; ++t) {
    c = FedAuObserve(c, rng.Bernoulli(0.003), 50);
    const double w = FedAuWeight(c);
    ASSERT_GE(w, 1.0);
    ASSERT_LE(w, 50.0);
    ASSERT_LT(c.absent_run, 50u);
  }
}

TEST(FedAuEstimatorStrategyTest, LoweredCutClampsTheNextInterval) {
  // A counter saved under K_cut = infinity, resumed with K_cut = 50.
  FedAuCounter c{.absent_run = 80, .intervals = 1, .interval_sum = 4};
  FedAuCounter after = FedAuObserve(c, true, 50);
  EXPECT_EQ(after.interval_sum, 54u);  // min(81, 50)
  EXPECT_EQ(after.intervals, 2u);
  FedAuCounter absent = FedAuObserve(c, false, 50);
  EXPECT_EQ(absent.interval_sum, 54u);  // M = 81 >= 50: records K_cut
  EXPECT_EQ(absent.absent_run, 0u);
}

TEST(FedAuEstimatorStrategyTest, AdvanceCoversEveryRegisteredClientAndDropsOthers) {
  std::map<uint64_t, FedAuCounter> before = {{1, {.absent_run = 2}}, {9, {.absent_run = 5}}};
  const std::vector<uint64_t> all = {1, 2, 3};
  std::map<uint64_t, FedAuCounter> after = FedAuAdvance(before, all, {3}, 50);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[1], (FedAuCounter{.absent_run = 3}));        // q = 0
  EXPECT_EQ(after[2], (FedAuCounter{.absent_run = 1}));        // new, q = 0
  EXPECT_EQ(after[3], (FedAuCounter{0, 1, 1}));                // new, q = 1
  EXPECT_FALSE(after.contains(9));                             // left
}

}  // namespace
}  // namespace murmur::server::strategy
