#include "client/runtime/sensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace murmur::client {
namespace {

namespace fs = std::filesystem;

class SensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("murmur_sensors_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "sys");
    fs::create_directories(root_ / "proc");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const fs::path& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  SystemSensors Make() { return SystemSensors((root_ / "sys").string(), (root_ / "proc").string(), 4); }
  fs::path root_;
};

TEST_F(SensorsTest, NoPowerSupplyIsUnknown) {
  PowerReading p = Make().Power();
  EXPECT_EQ(p.source, PowerReading::Source::kUnknown);
  EXPECT_FALSE(p.battery_fraction);
}

TEST_F(SensorsTest, MainsOnlineIsAc) {
  Write("sys/class/power_supply/AC/type", "Mains\n");
  Write("sys/class/power_supply/AC/online", "1\n");
  Write("sys/class/power_supply/BAT0/type", "Battery\n");
  Write("sys/class/power_supply/BAT0/capacity", "55\n");
  Write("sys/class/power_supply/BAT0/status", "Charging\n");
  PowerReading p = Make().Power();
  EXPECT_EQ(p.source, PowerReading::Source::kAc);
  ASSERT_TRUE(p.battery_fraction);
  EXPECT_DOUBLE_EQ(*p.battery_fraction, 0.55);
}

TEST_F(SensorsTest, MainsOfflineWithBatteryIsBattery) {
  Write("sys/class/power_supply/AC/type", "Mains\n");
  Write("sys/class/power_supply/AC/online", "0\n");
  Write("sys/class/power_supply/BAT0/type", "Battery\n");
  Write("sys/class/power_supply/BAT0/capacity", "20\n");
  Write("sys/class/power_supply/BAT0/status", "Discharging\n");
  PowerReading p = Make().Power();
  EXPECT_EQ(p.source, PowerReading::Source::kBattery);
  EXPECT_DOUBLE_EQ(*p.battery_fraction, 0.2);
  EXPECT_NE(p.detail.find("20%"), std::string::npos) << p.detail;
}

TEST_F(SensorsTest, CpuLoadIsPerCore) {
  Write("proc/loadavg", "2.00 1.50 1.00 3/200 12345\n");
  LoadReading l = Make().CpuLoad();
  ASSERT_TRUE(l.value);
  EXPECT_DOUBLE_EQ(*l.value, 0.5);
}

TEST_F(SensorsTest, MissingOrBadLoadavgIsUnknownWithTheReason) {
  LoadReading l = Make().CpuLoad();
  EXPECT_FALSE(l.value);
  EXPECT_NE(l.detail.find("loadavg"), std::string::npos);
  Write("proc/loadavg", "garbage\n");
  l = Make().CpuLoad();
  EXPECT_FALSE(l.value);
  EXPECT_NE(l.detail.find("cannot parse"), std::string::npos);
}

TEST_F(SensorsTest, GpuIsUnknownWithoutNvml) {
  LoadReading g = Make().GpuUtilization();
  EXPECT_FALSE(g.value);
  EXPECT_NE(g.detail.find("NVML"), std::string::npos);
}

TEST(SystemSensorsReal, ReadsThisMachineWithoutFailing) {
  SystemSensors s;
  (void)s.Power();
  EXPECT_TRUE(s.CpuLoad().value) << "every Linux has /proc/loadavg";
}

}  // namespace
}  // namespace murmur::client
