#include "sim/participation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace murmur::sim {
namespace {

double EmpiricalRate(PatternKind kind, double p, uint64_t slots, uint32_t client = 3) {
  PatternOptions o;
  o.kind = kind;
  o.markov_a = 0.05;
  o.cyclic_period = 20;
  ParticipationPattern pat(o, p, 42, client);
  uint64_t on = 0;
  for (uint64_t s = 0; s < slots; ++s) on += pat.Next(s) ? 1 : 0;
  return static_cast<double>(on) / static_cast<double>(slots);
}

TEST(Participation, BernoulliRateMatchesP) {
  for (double p : {0.02, 0.1, 0.5, 0.9}) {
    const double sd = std::sqrt(p * (1 - p) / 200000.0);
    EXPECT_NEAR(EmpiricalRate(PatternKind::kBernoulli, p, 200000), p, 5 * sd) << p;
  }
}

TEST(Participation, MarkovIsStationaryAtP) {
  // Correlated draws: the tolerance is wider than for independent ones.
  for (double p : {0.05, 0.1, 0.3, 0.7}) {
    EXPECT_NEAR(EmpiricalRate(PatternKind::kMarkov, p, 400000), p, 0.02) << p;
  }
  // Averaged over many clients, each slot's rate is also p (the chain starts
  // stationary, it does not drift towards p).
  PatternOptions o;
  o.kind = PatternKind::kMarkov;
  std::vector<ParticipationPattern> pats;
  for (uint32_t n = 0; n < 20000; ++n) pats.emplace_back(o, 0.2, 7, n);
  for (uint64_t s = 0; s < 50; ++s) {
    int on = 0;
    for (auto& pat : pats) on += pat.Next(s) ? 1 : 0;
    if (s == 0 || s == 49) {
      EXPECT_NEAR(on / 20000.0, 0.2, 0.015) << "slot " << s;
    }
  }
}

TEST(Participation, MarkovRunsAreLongerThanBernoulli) {
  PatternOptions o;
  o.kind = PatternKind::kMarkov;
  o.markov_a = 0.02;
  ParticipationPattern pat(o, 0.5, 1, 1);
  int switches = 0;
  bool prev = pat.Next(0);
  for (uint64_t s = 1; s < 10000; ++s) {
    const bool cur = pat.Next(s);
    switches += cur != prev ? 1 : 0;
    prev = cur;
  }
  // Expected switch rate 2 * a * (1 - p) = 0.02 per slot, vs 0.5 for bernoulli.
  EXPECT_NEAR(switches / 10000.0, 0.02, 0.008);
}

TEST(Participation, CyclicHasThePeriodAndRate) {
  PatternOptions o;
  o.kind = PatternKind::kCyclic;
  o.cyclic_period = 20;
  for (uint32_t client = 0; client < 50; ++client) {
    ParticipationPattern pat(o, 0.25, 9, client);
    std::vector<bool> seq;
    for (uint64_t s = 0; s < 200; ++s) seq.push_back(pat.Next(s));
    int on = 0;
    for (size_t s = 0; s < 200; ++s) {
      on += seq[s] ? 1 : 0;
      if (s >= 20) {
        ASSERT_EQ(seq[s], seq[s - 20]) << "client " << client << " slot " << s;
      }
    }
    EXPECT_EQ(on, 50) << client;  // round(20 * 0.25) = 5 of every 20 slots
  }
}

TEST(Participation, ParsesNames) {
  EXPECT_EQ(*ParsePatternKind("markov"), PatternKind::kMarkov);
  EXPECT_FALSE(ParsePatternKind("weekly").ok());
  EXPECT_NE(ParsePatternKind("weekly").status().message().find("weekly"), std::string::npos);
}

TEST(Participation, DataCorrelatedProbabilities) {
  Rng rng(5);
  std::vector<std::vector<double>> dist(100, std::vector<double>(10, 0.0));
  for (size_t n = 0; n < 100; ++n) dist[n][n % 10] = 1.0;  // one class per client
  auto p = AssignProbabilities(ProbabilityMode::kData, 100, 0.1, 0.02, dist, rng);
  ASSERT_TRUE(p.ok());
  for (size_t n = 0; n < 100; ++n) {
    EXPECT_GE((*p)[n], 0.02);
    EXPECT_LE((*p)[n], 1.0);
    EXPECT_EQ((*p)[n], (*p)[n % 10]);  // same data, same p
  }
  EXPECT_FALSE(AssignProbabilities(ProbabilityMode::kData, 100, 0.1, 0.02, {}, rng).ok());
  auto u = AssignProbabilities(ProbabilityMode::kUniform, 1000, 0.2, 0.05, {}, rng);
  ASSERT_TRUE(u.ok());
  double mean = 0;
  for (double x : *u) mean += x / 1000;
  EXPECT_NEAR(mean, 0.2, 0.02);
}

}  // namespace
}  // namespace murmur::sim
