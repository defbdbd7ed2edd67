#include "client/runtime/sensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace murmur::client {
namespace {

std::optional<std::string> ReadTrimmed(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string_view PowerSourceName(PowerReading::Source s) {
  switch (s) {
    case PowerReading::Source::kAc: return "ac";
    case PowerReading::Source::kBattery: return "battery";
    case PowerReading::Source::kUnknown: break;
  }
  return "unknown";
}

SystemSensors::SystemSensors(std::string sys_root, std::string proc_root, int num_cpus)
    : sys_root_(std::move(sys_root)), proc_root_(std::move(proc_root)), num_cpus_(num_cpus) {
  if (num_cpus_ <= 0) num_cpus_ = std::max(1u, std::thread::hardware_concurrency());
}

PowerReading SystemSensors::Power() {
  namespace fs = std::filesystem;
  PowerReading r;
  const fs::path dir = fs::path(sys_root_) / "class" / "power_supply";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    r.detail = fmt::format("no {}", dir.string());
    return r;
  }
  bool any_mains = false, mains_online = false, any_battery = false;
  std::optional<double> capacity;
  std::string battery_status;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::optional<std::string> type = ReadTrimmed(entry.path() / "type");
    if (!type) continue;
    if (*type == "Mains" || *type == "USB") {
      any_mains = true;
      if (ReadTrimmed(entry.path() / "online").value_or("0") == "1") mains_online = true;
    } else if (*type == "Battery") {
      any_battery = true;
      if (auto cap = ReadTrimmed(entry.path() / "capacity")) {
        try {
          capacity = std::clamp(std::stod(*cap) / 100.0, 0.0, 1.0);
        } catch (const std::exception&) {
        }
      }
      battery_status = ReadTrimmed(entry.path() / "status").value_or("");
    }
  }
  if (capacity) r.battery_fraction = capacity;
  if (mains_online || (!any_mains && any_battery && battery_status == "Charging")) {
    r.source = PowerReading::Source::kAc;
  } else if (any_battery) {
    r.source = PowerReading::Source::kBattery;
  } else if (any_mains) {
    r.source = PowerReading::Source::kBattery;  // a supply that is offline and no battery seen
  }
  r.detail = fmt::format("{} (mains {}, battery {}{})", PowerSourceName(r.source),
                         any_mains ? (mains_online ? "online" : "offline") : "none",
                         any_battery ? "present" : "none",
                         capacity ? fmt::format(" {:.0f}%", *capacity * 100) : "");
  return r;
}

LoadReading SystemSensors::CpuLoad() {
  LoadReading r;
  const std::string path = proc_root_ + "/loadavg";
  std::optional<std::string> line = ReadTrimmed(path);
  if (!line) {
    r.detail = fmt::format("cannot read {}", path);
    return r;
  }
  std::istringstream in(*line);
  double one_minute = 0;
  if (!(in >> one_minute)) {
    r.detail = fmt::format("cannot parse {}: '{}'", path, *line);
    return r;
  }
  r.value = one_minute / num_cpus_;
  r.detail = fmt::format("loadavg {:.2f} on {} cpus", one_minute, num_cpus_);
  return r;
}

LoadReading SystemSensors::GpuUtilization() {
  return LoadReading{std::nullopt, "unknown (NVML not available in this build)"};
}

}  // namespace murmur::client
