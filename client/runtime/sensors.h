// Sensors: what the participation policy reads about this device (power
// supply, CPU load, GPU utilization), behind an interface so tests and the
// simulator inject their own readings.
//
// SystemSensors reads Linux:
//   power  /sys/class/power_supply/*: a "Mains"/"USB" supply's `online`, a
//          "Battery"'s `capacity` (percent) and `status`. No supply at all
//          (a server, a container) is kUnknown, which a policy treats as AC.
//   cpu    /proc/loadavg's 1-minute load divided by the number of CPUs.
//   gpu    utilization needs NVML; this build has none, so it is always
//          unknown (nullopt) with the note "NVML not available".
// The roots (/sys, /proc) are constructor arguments so tests read fake trees.
//
// Threading: SystemSensors keeps no state beyond its paths; calls are safe
// from any thread.
#pragma once

#include <optional>
#include <string>

namespace murmur::client {

struct PowerReading {
  enum class Source { kUnknown, kAc, kBattery };
  Source source = Source::kUnknown;
  std::optional<double> battery_fraction;  // 0..1 when a battery reports it
  std::string detail;                      // what was read, for the decision's reason
};

std::string_view PowerSourceName(PowerReading::Source s);  // "unknown", "ac", "battery"

struct LoadReading {
  std::optional<double> value;  // CPU: load per core; GPU: utilization 0..1
  std::string detail;           // where it came from, or why it is unknown
};

class Sensors {
 public:
  virtual ~Sensors() = default;
  virtual PowerReading Power() = 0;
  virtual LoadReading CpuLoad() = 0;
  virtual LoadReading GpuUtilization() = 0;
};

class SystemSensors final : public Sensors {
 public:
  explicit SystemSensors(std::string sys_root = "/sys", std::string proc_root = "/proc",
                         int num_cpus = 0 /* 0: std::thread::hardware_concurrency */);
  PowerReading Power() override;
  LoadReading CpuLoad() override;
  LoadReading GpuUtilization() override;

 private:
  std::string sys_root_;
  std::string proc_root_;
  int num_cpus_;
};

}  // namespace murmur::client
