#include "server/service/inflight_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace murmur::server {
namespace {

TEST(InflightBudgetTest, RefusesWhatDoesNotFitAndReleasesOnDestruction) {
  InflightBudget budget(100, 2);
  {
    auto a = budget.TryAcquire(60);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->bytes(), 60u);
    EXPECT_FALSE(budget.TryAcquire(41).has_value());  // bytes
    auto b = budget.TryAcquire(40);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(budget.bytes_in_flight(), 100u);
    EXPECT_FALSE(budget.TryAcquire(0).has_value());  // streams
    EXPECT_EQ(budget.streams_in_flight(), 2u);
  }
  EXPECT_EQ(budget.bytes_in_flight(), 0u);
  EXPECT_EQ(budget.streams_in_flight(), 0u);
  EXPECT_FALSE(budget.TryAcquire(101).has_value());
}

TEST(InflightBudgetTest, AMovedLeaseReleasesOnce) {
  InflightBudget budget(10, 4);
  InflightBudget::Lease held;
  EXPECT_FALSE(held.held());
  {
    auto l = budget.TryAcquire(7);
    ASSERT_TRUE(l.has_value());
    held = std::move(*l);
  }  // the moved-from lease gives nothing back
  EXPECT_TRUE(held.held());
  EXPECT_EQ(budget.bytes_in_flight(), 7u);
  held.Release();
  held.Release();
  EXPECT_EQ(budget.bytes_in_flight(), 0u);
  EXPECT_EQ(budget.streams_in_flight(), 0u);
}

TEST(InflightBudgetTest, ConcurrentAcquiresNeverExceedTheLimits) {
  InflightBudget budget(1000, 8);
  std::vector<std::thread> threads;
  std::atomic<bool> over{false};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto l = budget.TryAcquire(300);
        if (budget.bytes_in_flight() > 1000 || budget.streams_in_flight() > 8) over = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(budget.bytes_in_flight(), 0u);
  EXPECT_EQ(budget.streams_in_flight(), 0u);
}

}  // namespace
}  // namespace murmur::server
