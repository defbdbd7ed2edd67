#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace murmur {
namespace {

using namespace std::chrono_literals;

TEST(ClockTest, SystemClockIsNearWallTime) {
  double now = SystemClock::Default()->NowSeconds();
  EXPECT_GT(now, 1.6e9);  // after 2020
  double later = SystemClock::Default()->NowSeconds();
  EXPECT_GE(later, now);
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(10s);
  EXPECT_EQ(clock.Now(), Duration(10s));
  clock.Advance(500ms);
  EXPECT_DOUBLE_EQ(clock.NowSeconds(), 10.5);
  clock.Set(5s);  // backwards: ignored
  EXPECT_DOUBLE_EQ(clock.NowSeconds(), 10.5);
  clock.Set(20s);
  EXPECT_DOUBLE_EQ(clock.NowSeconds(), 20.0);
}

TEST(ClockTest, ManualSleepWaitsForAdvance) {
  ManualClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(3s);
    woke = true;
  });
  while (clock.sleepers() == 0) std::this_thread::yield();
  clock.Advance(1s);
  clock.Advance(1s);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(woke.load());
  clock.Advance(1s);
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(ClockTest, ZeroSleepReturnsAtOnce) {
  ManualClock clock;
  clock.SleepFor(Duration::zero());
  SystemClock::Default()->SleepFor(-1s);
}

}  // namespace
}  // namespace murmur
