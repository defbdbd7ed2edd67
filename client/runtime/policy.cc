#include "client/runtime/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

namespace murmur::client {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

Result<int> ParseDay(std::string_view s) {
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (s == kDays[i]) return static_cast<int>(i);
  }
  return InvalidArgumentError(fmt::format("unknown day '{}' (use sun, mon, ..., sat)", s));
}

Result<uint8_t> ParseDays(std::string_view s) {
  if (s.empty() || s == "daily") return uint8_t{0x7f};
  uint8_t mask = 0;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    std::string_view part = Trim(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    const size_t dash = part.find('-');
    if (dash == std::string_view::npos) {
      MURMUR_ASSIGN_OR_RETURN(int d, ParseDay(part));
      mask |= static_cast<uint8_t>(1u << d);
    } else {
      MURMUR_ASSIGN_OR_RETURN(int a, ParseDay(part.substr(0, dash)));
      MURMUR_ASSIGN_OR_RETURN(int b, ParseDay(part.substr(dash + 1)));
      for (int d = a;; d = (d + 1) % 7) {
        mask |= static_cast<uint8_t>(1u << d);
        if (d == b) break;
      }
    }
  }
  return mask;
}

Result<int> ParseHhMm(std::string_view s) {
  int h = 0, m = 0;
  char tail = 0;
  const std::string str(s);
  if (std::sscanf(str.c_str(), "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 ||
      m > 59 || (h == 24 && m != 0)) {
    return InvalidArgumentError(fmt::format("bad time '{}' (want HH:MM, 00:00..24:00)", s));
  }
  return h * 60 + m;
}

bool InWindow(const AvailabilityWindow& w, int weekday, int minute) {
  const auto day_on = [&](int d) { return (w.days >> d) & 1; };
  if (w.start_min < w.end_min) return day_on(weekday) && minute >= w.start_min && minute < w.end_min;
  // Wraps past midnight: the part before midnight belongs to the start day.
  if (minute >= w.start_min) return day_on(weekday);
  if (minute < w.end_min) return day_on((weekday + 6) % 7);
  return false;
}

}  // namespace

Result<AvailabilityWindow> ParseWindow(std::string_view text) {
  text = Trim(text);
  AvailabilityWindow w;
  const size_t space = text.rfind(' ');
  std::string_view times = text;
  if (space != std::string_view::npos) {
    auto days = ParseDays(Trim(text.substr(0, space)));
    if (!days.ok()) return days.status().WithContext(fmt::format("window '{}'", text));
    w.days = *days;
    times = text.substr(space + 1);
  }
  const size_t dash = times.find('-');
  if (dash == std::string_view::npos) {
    return InvalidArgumentError(
        fmt::format("window '{}': want '[days ]HH:MM-HH:MM', e.g. 'mon-fri 22:00-06:00'", text));
  }
  auto start = ParseHhMm(times.substr(0, dash));
  auto end = ParseHhMm(times.substr(dash + 1));
  if (!start.ok()) return start.status().WithContext(fmt::format("window '{}'", text));
  if (!end.ok()) return end.status().WithContext(fmt::format("window '{}'", text));
  if (*start == *end) {
    return InvalidArgumentError(fmt::format("window '{}' is empty (start == end)", text));
  }
  w.start_min = *start == 1440 ? 0 : *start;
  w.end_min = *end;
  return w;
}

std::string WindowToString(const AvailabilityWindow& w) {
  std::string days;
  if (w.days != 0x7f) {
    for (int d = 0; d < 7; ++d) {
      if ((w.days >> d) & 1) days += fmt::format("{}{}", days.empty() ? "" : ",", kDays[d]);
    }
    days += " ";
  }
  return fmt::format("{}{:02}:{:02}-{:02}:{:02}", days, w.start_min / 60, w.start_min % 60,
                     w.end_min / 60, w.end_min % 60);
}

Result<KRule> ParseKRule(std::string_view name) {
  if (name == "fixed") return KRule::kFixed;
  if (name == "uniform") return KRule::kUniform;
  if (name == "time") return KRule::kTime;
  return InvalidArgumentError(fmt::format("unknown K rule '{}' (fixed, uniform or time)", name));
}

std::string_view KRuleName(KRule rule) {
  switch (rule) {
    case KRule::kFixed: return "fixed";
    case KRule::kUniform: return "uniform";
    case KRule::kTime: return "time";
  }
  return "?";
}

Status ValidatePolicyConfig(const PolicyConfig& c) {
  if (c.min_battery < 0 || c.min_battery > 1) {
    return InvalidArgumentError(fmt::format("policy.min_battery must be in [0, 1], got {}",
                                            c.min_battery));
  }
  if (c.max_cpu_load < 0) return InvalidArgumentError("policy.max_cpu_load must be >= 0");
  if (c.max_gpu_util < 0 || c.max_gpu_util > 1) {
    return InvalidArgumentError("policy.max_gpu_util must be in [0, 1]");
  }
  if (c.daily_budget_s < 0) return InvalidArgumentError("policy.daily_budget_s must be >= 0");
  if (c.k_max < 1) return InvalidArgumentError("policy.k_max must be >= 1");
  if (c.k < 1 || c.k > c.k_max) {
    return InvalidArgumentError(fmt::format("policy.k must be in [1, k_max={}], got {}", c.k_max, c.k));
  }
  if (c.k_min < 1 || c.k_min > c.k_max) {
    return InvalidArgumentError(
        fmt::format("policy.k_min must be in [1, k_max={}], got {}", c.k_max, c.k_min));
  }
  if (c.k_rule == KRule::kTime && !(c.k_time_budget_s > 0)) {
    return InvalidArgumentError("policy.k_time_budget_s must be > 0 for k_rule = time");
  }
  if (!(c.recheck_s > 0)) return InvalidArgumentError("policy.recheck_s must be > 0");
  return Status::Ok();
}

ConfiguredPolicy::ConfiguredPolicy(PolicyConfig config, Clock* clock, Sensors* sensors, Rng rng)
    : config_(std::move(config)), clock_(clock), sensors_(sensors), rng_(std::move(rng)) {}

ConfiguredPolicy::LocalTime ConfiguredPolicy::Now() const {
  const auto secs = static_cast<int64_t>(std::floor(clock_->NowSeconds()));
  int64_t local = secs;
  if (config_.utc_offset_min) {
    local += int64_t{*config_.utc_offset_min} * 60;
  } else {
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    localtime_r(&t, &tm);
    local += tm.tm_gmtoff;
  }
  const int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const int64_t in_day = local - day * 86400;
  // 1970-01-01 was a Thursday (weekday 4).
  const int weekday = static_cast<int>(((day % 7) + 7 + 4) % 7);
  return LocalTime{day, weekday, static_cast<int>(in_day / 60)};
}

void ConfiguredPolicy::RestoreBudget(int64_t day, double used_s) {
  budget_day_ = day;
  budget_used_s_ = used_s;
}

ParticipationDecision ConfiguredPolicy::Decide() {
  ParticipationDecision d;
  d.retry_after_s = config_.recheck_s;
  const LocalTime now = Now();
  if (now.day != budget_day_) {
    budget_day_ = now.day;
    budget_used_s_ = 0;
  }
  if (!config_.windows.empty()) {
    const AvailabilityWindow* open = nullptr;
    for (const auto& w : config_.windows) {
      if (InWindow(w, now.weekday, now.minute)) open = &w;
    }
    if (open == nullptr) {
      d.reason = fmt::format("outside the availability windows (local {} {:02}:{:02})",
                             kDays[now.weekday], now.minute / 60, now.minute % 60);
      return d;
    }
  }
  const PowerReading power = sensors_->Power();
  if (config_.require_ac && power.source == PowerReading::Source::kBattery) {
    d.reason = fmt::format("on battery and require_ac is set: {}", power.detail);
    return d;
  }
  if (config_.min_battery > 0 && power.source == PowerReading::Source::kBattery &&
      power.battery_fraction && *power.battery_fraction < config_.min_battery) {
    d.reason = fmt::format("battery {:.0f}% below min_battery {:.0f}%",
                           *power.battery_fraction * 100, config_.min_battery * 100);
    return d;
  }
  std::string cpu_note = "cpu load not checked";
  if (config_.max_cpu_load > 0) {
    const LoadReading cpu = sensors_->CpuLoad();
    if (cpu.value && *cpu.value > config_.max_cpu_load) {
      d.reason = fmt::format("device busy: cpu load {:.2f} per core > max_cpu_load {:.2f} ({})",
                             *cpu.value, config_.max_cpu_load, cpu.detail);
      return d;
    }
    cpu_note = cpu.value ? fmt::format("cpu load {:.2f}", *cpu.value) : "cpu load " + cpu.detail;
  }
  std::string gpu_note;
  if (config_.max_gpu_util > 0) {
    const LoadReading gpu = sensors_->GpuUtilization();
    if (gpu.value && *gpu.value > config_.max_gpu_util) {
      d.reason = fmt::format("device busy: gpu utilization {:.0f}% > max_gpu_util {:.0f}%",
                             *gpu.value * 100, config_.max_gpu_util * 100);
      return d;
    }
    gpu_note = gpu.value ? fmt::format(", gpu {:.0f}%", *gpu.value * 100) : ", gpu " + gpu.detail;
  }
  uint32_t k = ChooseK();
  std::string budget_note;
  if (config_.daily_budget_s > 0) {
    const double left = config_.daily_budget_s - budget_used_s_;
    if (left <= 0) {
      d.reason = fmt::format("daily compute budget spent ({:.1f} s of {:.1f} s)", budget_used_s_,
                             config_.daily_budget_s);
      const int minutes_left = 1440 - now.minute;
      d.retry_after_s = std::max(config_.recheck_s, minutes_left * 60.0);
      return d;
    }
    if (step_s_ && *step_s_ > 0) {
      const auto fit = static_cast<uint32_t>(std::max(1.0, std::floor(left / *step_s_)));
      if (fit < k) {
        k = fit;
        budget_note = fmt::format(", K capped to {} by the budget left ({:.1f} s)", k, left);
      }
    }
  }
  d.participate = true;
  d.local_steps = k;
  d.reason = fmt::format("available: power {}, {}{}; K={} ({}){}", PowerSourceName(power.source),
                         cpu_note, gpu_note, k, KRuleName(config_.k_rule), budget_note);
  return d;
}

uint32_t ConfiguredPolicy::ChooseK() {
  uint32_t k = config_.k;
  switch (config_.k_rule) {
    case KRule::kFixed:
      break;
    case KRule::kUniform:
      k = config_.k_min + static_cast<uint32_t>(rng_.UniformInt(config_.k_max - config_.k_min + 1));
      break;
    case KRule::kTime:
      k = step_s_ && *step_s_ > 0
              ? static_cast<uint32_t>(std::min<double>(
                    config_.k_max, std::max(1.0, std::floor(config_.k_time_budget_s / *step_s_))))
              : config_.k_min;
      break;
  }
  return std::clamp<uint32_t>(k, 1, config_.k_max);
}

void ConfiguredPolicy::Record(uint32_t steps, double train_seconds) {
  if (steps == 0 || !(train_seconds >= 0)) return;
  const LocalTime now = Now();
  if (now.day != budget_day_) {
    budget_day_ = now.day;
    budget_used_s_ = 0;
  }
  budget_used_s_ += train_seconds;
  const double per_step = train_seconds / steps;
  step_s_ = step_s_ ? 0.7 * *step_s_ + 0.3 * per_step : per_step;
}

std::string ConfiguredPolicy::Describe() const {
  std::string windows;
  for (const auto& w : config_.windows) {
    windows += fmt::format("{}{}", windows.empty() ? "" : "; ", WindowToString(w));
  }
  std::string k;
  switch (config_.k_rule) {
    case KRule::kFixed: k = fmt::format("fixed {}", config_.k); break;
    case KRule::kUniform: k = fmt::format("uniform [{}, {}]", config_.k_min, config_.k_max); break;
    case KRule::kTime:
      k = fmt::format("time {:.1f} s (step {}), max {}", config_.k_time_budget_s,
                      step_s_ ? fmt::format("{:.3f} s", *step_s_) : "not measured", config_.k_max);
      break;
  }
  return fmt::format(
      "windows [{}], require_ac {}, min_battery {:.2f}, max_cpu_load {}, max_gpu_util {}, "
      "daily budget {}, used today {:.1f} s, K {}",
      windows.empty() ? "always" : windows, config_.require_ac, config_.min_battery,
      config_.max_cpu_load > 0 ? fmt::format("{:.2f}", config_.max_cpu_load) : "off",
      config_.max_gpu_util > 0 ? fmt::format("{:.2f}", config_.max_gpu_util) : "off",
      config_.daily_budget_s > 0 ? fmt::format("{:.0f} s", config_.daily_budget_s) : "none",
      budget_used_s_, k);
}

}  // namespace murmur::client
