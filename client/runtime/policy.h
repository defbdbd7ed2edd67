// ParticipationPolicy: the client's own rule for *when* it takes part and
// *how many local steps K* it runs. The participant asks Decide() before
// every check-in and reports each finished training with Record(); every
// decision carries a reason in words that the daemon logs.
//
// ConfiguredPolicy, the rule set configured in TOML ([policy] table):
//   windows      availability windows "HH:MM-HH:MM" with optional days
//                ("mon-fri 09:00-17:00", "sat,sun 00:00-24:00"); a window may
//                wrap midnight (22:00-06:00); none configured: always.
//   power        require_ac; min_battery (0..1, when on battery). Unknown
//                power (no /sys/class/power_supply) counts as AC.
//   idleness     max_cpu_load (load per core; 0: ignore), max_gpu_util
//                (0..1; 0: ignore; an unknown GPU reading never blocks).
//   budget       daily_budget_s of training time per local day (0: none);
//                K is also capped so the next job fits what is left.
//   K            fixed (k), uniform (uniform integer in [k_min, k_max]), or
//                time (as many steps as fit k_time_budget_s at the measured
//                step time, an exponential moving average; k_min before the
//                first measurement), always clamped to [1, k_max].
// Local time: utc_offset_min when set (tests), else the system's time zone.
//
// Threading: not synchronized; the participant's thread owns it. The Clock
// and Sensors must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/runtime/sensors.h"
#include "common/clock.h"
#include "common/rng.h"
#include "common/status.h"

namespace murmur::client {

struct ParticipationDecision {
  bool participate = false;
  uint32_t local_steps = 0;  // K when participating
  double retry_after_s = 0;  // when not: how long until it is worth asking again
  std::string reason;
};

class ParticipationPolicy {
 public:
  virtual ~ParticipationPolicy() = default;
  virtual ParticipationDecision Decide() = 0;
  // A finished local job: `steps` steps took `train_seconds`.
  virtual void Record(uint32_t steps, double train_seconds) = 0;
  // One line describing the configuration and the current budget use.
  virtual std::string Describe() const = 0;
};

// A weekly availability window. days: bit d set = weekday d (0 = Sunday).
struct AvailabilityWindow {
  uint8_t days = 0x7f;
  int start_min = 0;    // minutes after local midnight, 0..1439
  int end_min = 1440;   // exclusive, 1..1440; end <= start wraps past midnight
};

// "[days ]HH:MM-HH:MM", days as "mon-fri", "sat,sun", "daily" or absent.
Result<AvailabilityWindow> ParseWindow(std::string_view text);
std::string WindowToString(const AvailabilityWindow& w);

enum class KRule { kFixed, kUniform, kTime };
Result<KRule> ParseKRule(std::string_view name);  // "fixed", "uniform", "time"
std::string_view KRuleName(KRule rule);

struct PolicyConfig {
  std::vector<AvailabilityWindow> windows;  // empty: always available
  bool require_ac = false;
  double min_battery = 0;     // 0..1
  double max_cpu_load = 0;    // load per core; 0: ignore
  double max_gpu_util = 0;    // 0..1; 0: ignore
  double daily_budget_s = 0;  // 0: unlimited
  KRule k_rule = KRule::kFixed;
  uint32_t k = 5;
  uint32_t k_min = 1;
  uint32_t k_max = 50;
  double k_time_budget_s = 10;
  double recheck_s = 60;  // retry_after_s when a condition blocks
  std::optional<int> utc_offset_min;
};

// InvalidArgument naming the bad field.
Status ValidatePolicyConfig(const PolicyConfig& config);

class ConfiguredPolicy final : public ParticipationPolicy {
 public:
  ConfiguredPolicy(PolicyConfig config, Clock* clock, Sensors* sensors, Rng rng);

  ParticipationDecision Decide() override;
  void Record(uint32_t steps, double train_seconds) override;
  std::string Describe() const override;

  // Budget bookkeeping, persisted by the participant across restarts.
  int64_t budget_day() const { return budget_day_; }
  double budget_used_s() const { return budget_used_s_; }
  void RestoreBudget(int64_t day, double used_s);
  std::optional<double> step_seconds() const { return step_s_; }

 private:
  struct LocalTime {
    int64_t day;  // days since the epoch, local
    int weekday;  // 0 = Sunday
    int minute;   // of the day
  };
  LocalTime Now() const;
  uint32_t ChooseK();

  PolicyConfig config_;
  Clock* clock_;
  Sensors* sensors_;
  Rng rng_;
  int64_t budget_day_ = -1;
  double budget_used_s_ = 0;
  std::optional<double> step_s_;
};

}  // namespace murmur::client
