#include "sim/client_model.h"

#include <gtest/gtest.h>

#include <cmath>

namespace murmur::sim {
namespace {

TEST(ClientModel, SameSeedSameClientSameBehaviour) {
  SystemOptions o;
  o.k_policy = KPolicy::kRange;
  o.k_min = 2;
  o.k_max = 9;
  ClientModel a(o, 3, 7), b(o, 3, 7), other(o, 3, 8);
  EXPECT_EQ(a.sec_per_sample(), b.sec_per_sample());
  EXPECT_NE(a.sec_per_sample(), other.sec_per_sample());
  for (uint64_t j = 0; j < 100; ++j) {
    EXPECT_EQ(a.LocalSteps(j), b.LocalSteps(j));
    EXPECT_GE(a.LocalSteps(j), 2);
    EXPECT_LE(a.LocalSteps(j), 9);
    EXPECT_EQ(a.JobSeed(j), b.JobSeed(j));
  }
}

TEST(ClientModel, SpeedIsLogNormalAroundTheMedian) {
  SystemOptions o;
  o.sec_per_sample = 0.01;
  o.speed_sigma = 0.5;
  std::vector<double> logs;
  for (uint32_t c = 0; c < 4000; ++c) logs.push_back(std::log(ClientModel(o, 1, c).sec_per_sample()));
  double mean = 0, var = 0;
  for (double l : logs) mean += l / logs.size();
  for (double l : logs) var += (l - mean) * (l - mean) / logs.size();
  EXPECT_NEAR(mean, std::log(0.01), 0.05);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.05);
}

TEST(ClientModel, TimesFollowTheFormulas) {
  SystemOptions o;
  o.speed_sigma = 0;
  o.bandwidth_sigma = 0;
  o.sec_per_sample = 0.001;
  o.batch = 16;
  o.bandwidth_mbps = 8;  // 1 MB/s
  o.latency_s = 0.1;
  ClientModel m(o, 1, 0);
  EXPECT_DOUBLE_EQ(m.ComputeSeconds(10), 16 * 10 * 0.001);
  EXPECT_NEAR(m.TransferSeconds(1'000'000), 1.1, 1e-9);
}

TEST(ClientModel, BudgetPolicyFitsTheTimeBudget) {
  SystemOptions o;
  o.k_policy = KPolicy::kBudget;
  o.k_min = 1;
  o.k_max = 1000;
  o.time_budget_s = 2;
  o.batch = 10;
  o.speed_sigma = 1.0;
  for (uint32_t c = 0; c < 50; ++c) {
    ClientModel m(o, 2, c);
    const int k = m.LocalSteps(0);
    if (k > 1 && k < 1000) {
      EXPECT_LE(m.ComputeSeconds(k), 2.0 + 1e-9);
      EXPECT_GT(m.ComputeSeconds(k + 1), 2.0);
    }
  }
}

TEST(ClientModel, EagerClientsThinkLessAndDropoutRateHolds) {
  SystemOptions o;
  o.eager_fraction = 0.2;
  o.eager_factor = 10;
  o.think_s = 10;
  o.dropout = 0.3;
  int eager = 0;
  double eager_think = 0, lazy_think = 0;
  int drops = 0;
  for (uint32_t c = 0; c < 2000; ++c) {
    ClientModel m(o, 5, c);
    double t = 0;
    for (uint64_t a = 0; a < 20; ++a) t += m.ThinkSeconds(a) / 20;
    (m.eager() ? eager_think : lazy_think) += t;
    eager += m.eager() ? 1 : 0;
    drops += m.DropsOut(0) ? 1 : 0;
  }
  EXPECT_NEAR(eager / 2000.0, 0.2, 0.03);
  EXPECT_NEAR(eager_think / eager, 1.0, 0.15);
  EXPECT_NEAR(lazy_think / (2000 - eager), 10.0, 0.5);
  EXPECT_NEAR(drops / 2000.0, 0.3, 0.04);
}

}  // namespace
}  // namespace murmur::sim
