#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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

TEST(ClockTest, ManualTimersFireInTimeOrderWhenTheClockReachesThem) {
  ManualClock clock;
  std::vector<int> fired;
  clock.ScheduleAt(Duration(3s), [&] { fired.push_back(3); });
  clock.ScheduleAt(Duration(1s), [&] { fired.push_back(1); });
  clock.ScheduleAt(Duration(2s), [&] { fired.push_back(2); });
  const TimerId cancelled = clock.ScheduleAt(Duration(2s), [&] { fired.push_back(99); });
  EXPECT_EQ(clock.pending_timers(), 4u);
  EXPECT_TRUE(clock.Cancel(cancelled));
  EXPECT_FALSE(clock.Cancel(cancelled));
  clock.Advance(1500ms);
  EXPECT_EQ(fired, (std::vector<int>{1}));
  clock.Set(Duration(10s));
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(clock.pending_timers(), 0u);
}

TEST(ClockTest, ManualTimerMayScheduleAnotherThatIsAlreadyDue) {
  ManualClock clock;
  std::vector<int> fired;
  clock.ScheduleAt(Duration(1s), [&] {
    fired.push_back(1);
    clock.ScheduleAt(Duration(1s), [&] { fired.push_back(2); });
  });
  clock.Advance(1s);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  // A timer scheduled in the past fires at once.
  clock.ScheduleAt(Duration::zero(), [&] { fired.push_back(3); });
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

TEST(ClockTest, SystemTimerFiresAndCancelStopsIt) {
  SystemClock clock;
  std::atomic<int> fired{0};
  const TimerId late = clock.ScheduleAt(clock.Now() + Duration(60s), [&] { fired += 100; });
  clock.ScheduleAt(clock.Now() + Duration(5ms), [&] { fired += 1; });
  const auto start = std::chrono::steady_clock::now();
  while (fired.load() == 0 && std::chrono::steady_clock::now() - start < 10s) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(fired.load(), 1);
  EXPECT_TRUE(clock.Cancel(late));
}

}  // namespace
}  // namespace murmur
