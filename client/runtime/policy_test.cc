#include "client/runtime/policy.h"

#include <gtest/gtest.h>

#include <chrono>

namespace murmur::client {
namespace {

class FakeSensors final : public Sensors {
 public:
  PowerReading power{PowerReading::Source::kAc, std::nullopt, "fake ac"};
  LoadReading cpu{0.1, "fake"};
  LoadReading gpu{std::nullopt, "unknown (fake)"};
  PowerReading Power() override { return power; }
  LoadReading CpuLoad() override { return cpu; }
  LoadReading GpuUtilization() override { return gpu; }
};

// 2026-11-30 is a Monday; 00:00 UTC.
constexpr int64_t kMondayMidnight = 1795996800;

Duration At(int64_t day_offset, int hour, int minute) {
  return std::chrono::seconds(kMondayMidnight + day_offset * 86400 + hour * 3600 + minute * 60);
}

PolicyConfig Base() {
  PolicyConfig c;
  c.utc_offset_min = 0;
  return c;
}

TEST(PolicyTest, MondayMidnightConstantIsAMonday) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.windows = {*ParseWindow("mon 00:00-24:00")};
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  EXPECT_TRUE(p.Decide().participate);
  clock.Advance(std::chrono::hours(24));  // Tuesday noon
  EXPECT_FALSE(p.Decide().participate);
}

TEST(PolicyTest, ParseWindowForms) {
  auto w = ParseWindow("mon-fri 09:00-17:30");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->days, 0b0111110);
  EXPECT_EQ(w->start_min, 540);
  EXPECT_EQ(w->end_min, 1050);
  EXPECT_EQ(WindowToString(*w), "mon,tue,wed,thu,fri 09:00-17:30");
  auto wrap = ParseWindow("fri-mon 22:00-06:00");
  ASSERT_TRUE(wrap.ok());
  EXPECT_EQ(wrap->days, 0b1100011);  // sun, mon, fri, sat
  EXPECT_TRUE(ParseWindow("22:00-06:00").ok());
  EXPECT_FALSE(ParseWindow("mon 9-17").ok());
  EXPECT_FALSE(ParseWindow("moonday 09:00-10:00").ok());
  EXPECT_FALSE(ParseWindow("10:00-10:00").ok());
  EXPECT_FALSE(ParseWindow("25:00-26:00").ok());
}

TEST(PolicyTest, WindowBlocksOutsideAndSaysWhy) {
  ManualClock clock(At(0, 8, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.windows = {*ParseWindow("mon-fri 09:00-17:00")};
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  ParticipationDecision d = p.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("outside the availability windows (local mon 08:00)"), std::string::npos)
      << d.reason;
  clock.Set(At(0, 9, 0));
  EXPECT_TRUE(p.Decide().participate);
  clock.Set(At(0, 17, 0));
  EXPECT_FALSE(p.Decide().participate);
  clock.Set(At(5, 10, 0));  // Saturday
  EXPECT_FALSE(p.Decide().participate);
}

TEST(PolicyTest, WindowWrappingMidnightBelongsToItsStartDay) {
  ManualClock clock(At(0, 23, 0));  // Monday 23:00
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.windows = {*ParseWindow("mon 22:00-06:00")};
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  EXPECT_TRUE(p.Decide().participate);
  clock.Set(At(1, 5, 59));  // Tuesday early morning: still Monday's window
  EXPECT_TRUE(p.Decide().participate);
  clock.Set(At(1, 6, 0));
  EXPECT_FALSE(p.Decide().participate);
  clock.Set(At(1, 23, 0));  // Tuesday night: not in a Monday window
  EXPECT_FALSE(p.Decide().participate);
}

TEST(PolicyTest, UtcOffsetShiftsTheLocalHour) {
  ManualClock clock(At(0, 8, 30));  // 08:30 UTC = 10:30 at UTC+2
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.utc_offset_min = 120;
  c.windows = {*ParseWindow("10:00-11:00")};
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  EXPECT_TRUE(p.Decide().participate);
}

TEST(PolicyTest, PowerRules) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.require_ac = true;
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  EXPECT_TRUE(p.Decide().participate);
  sensors.power = {PowerReading::Source::kBattery, 0.9, "battery 90%"};
  ParticipationDecision d = p.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("require_ac"), std::string::npos) << d.reason;
  sensors.power = {PowerReading::Source::kUnknown, std::nullopt, "no supply"};
  EXPECT_TRUE(p.Decide().participate) << "unknown power counts as AC";

  PolicyConfig b = Base();
  b.min_battery = 0.5;
  ConfiguredPolicy q(b, &clock, &sensors, Rng(1));
  sensors.power = {PowerReading::Source::kBattery, 0.3, "battery 30%"};
  d = q.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("battery 30% below min_battery 50%"), std::string::npos) << d.reason;
  sensors.power = {PowerReading::Source::kBattery, 0.6, "battery 60%"};
  EXPECT_TRUE(q.Decide().participate);
}

TEST(PolicyTest, IdlenessRulesAndUnknownGpu) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.max_cpu_load = 0.5;
  c.max_gpu_util = 0.3;
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  ParticipationDecision d = p.Decide();
  EXPECT_TRUE(d.participate);
  EXPECT_NE(d.reason.find("gpu unknown (fake)"), std::string::npos) << d.reason;
  sensors.cpu = {0.9, "fake"};
  d = p.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("cpu load 0.90"), std::string::npos) << d.reason;
  sensors.cpu = {0.2, "fake"};
  sensors.gpu = {0.8, "fake nvml"};
  d = p.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("gpu utilization 80%"), std::string::npos) << d.reason;
  EXPECT_EQ(d.retry_after_s, c.recheck_s);
}

TEST(PolicyTest, KRules) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig fixed = Base();
  fixed.k = 7;
  ConfiguredPolicy pf(fixed, &clock, &sensors, Rng(1));
  EXPECT_EQ(pf.Decide().local_steps, 7u);

  PolicyConfig uni = Base();
  uni.k_rule = KRule::kUniform;
  uni.k_min = 3;
  uni.k_max = 6;
  ConfiguredPolicy pu(uni, &clock, &sensors, Rng(42));
  std::set<uint32_t> seen;
  for (int i = 0; i < 200; ++i) {
    const uint32_t k = pu.Decide().local_steps;
    EXPECT_GE(k, 3u);
    EXPECT_LE(k, 6u);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 4u);

  PolicyConfig timed = Base();
  timed.k_rule = KRule::kTime;
  timed.k_min = 2;
  timed.k_max = 100;
  timed.k_time_budget_s = 10;
  ConfiguredPolicy pt(timed, &clock, &sensors, Rng(1));
  EXPECT_EQ(pt.Decide().local_steps, 2u) << "k_min before any measurement";
  pt.Record(4, 2.0);  // 0.5 s per step -> 20 steps in 10 s
  EXPECT_EQ(pt.Decide().local_steps, 20u);
  pt.Record(10, 0.01);  // a moving average: one fast job moves it part of the way
  EXPECT_EQ(pt.Decide().local_steps, 28u);  // 10 / (0.7 * 0.5 + 0.3 * 0.001)
  for (int i = 0; i < 30; ++i) pt.Record(10, 0.01);  // steadily fast -> capped at k_max
  EXPECT_EQ(pt.Decide().local_steps, 100u);
}

TEST(PolicyTest, DailyBudgetCapsKThenBlocksUntilTomorrow) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.k = 10;
  c.daily_budget_s = 10;
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  p.Record(10, 7.0);  // 0.7 s/step, 3 s left -> 4 steps fit
  ParticipationDecision d = p.Decide();
  EXPECT_TRUE(d.participate);
  EXPECT_EQ(d.local_steps, 4u);
  EXPECT_NE(d.reason.find("capped"), std::string::npos) << d.reason;
  p.Record(4, 3.5);
  d = p.Decide();
  EXPECT_FALSE(d.participate);
  EXPECT_NE(d.reason.find("daily compute budget spent"), std::string::npos) << d.reason;
  EXPECT_DOUBLE_EQ(d.retry_after_s, 12 * 3600.0);  // until local midnight
  clock.Set(At(1, 0, 1));
  d = p.Decide();
  EXPECT_TRUE(d.participate) << d.reason;
  EXPECT_EQ(p.budget_used_s(), 0.0);
}

TEST(PolicyTest, RestoredBudgetCountsOnlyTheSameDay) {
  ManualClock clock(At(0, 12, 0));
  FakeSensors sensors;
  PolicyConfig c = Base();
  c.daily_budget_s = 10;
  ConfiguredPolicy p(c, &clock, &sensors, Rng(1));
  p.RestoreBudget(kMondayMidnight / 86400, 10.0);
  EXPECT_FALSE(p.Decide().participate);
  ConfiguredPolicy q(c, &clock, &sensors, Rng(1));
  q.RestoreBudget(kMondayMidnight / 86400 - 1, 10.0);  // yesterday's use
  EXPECT_TRUE(q.Decide().participate);
}

TEST(PolicyTest, ValidateNamesTheField) {
  PolicyConfig c = Base();
  c.k = 0;
  EXPECT_NE(ValidatePolicyConfig(c).message().find("policy.k "), std::string::npos);
  c = Base();
  c.min_battery = 2;
  EXPECT_NE(ValidatePolicyConfig(c).message().find("min_battery"), std::string::npos);
  EXPECT_TRUE(ValidatePolicyConfig(Base()).ok());
  EXPECT_TRUE(ParseKRule("time").ok());
  EXPECT_FALSE(ParseKRule("often").ok());
}

}  // namespace
}  // namespace murmur::client
