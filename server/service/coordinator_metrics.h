// CoordinatorMetrics: what murmur-coordinator exposes on /metrics, kept in a
// MetricsRegistry. Sources, all public: RoundEngine::Stats() (version,
// clients, queue, accepted/rejected in the history, unauthenticated
// attempts, uptime), the service's InflightBudget (bytes and streams held by
// open pushes) and PushOutcomes (pushes accepted / rejected by reason since
// start), read at each Render(); and each closed round (OnRoundClosed, fed
// from the engine's round observer): rounds by trigger, the interval
// between consecutive round closes, updates per round, the step norm and
// the FedAU weights the strategy gave the round's updates.
//
// Threading: OnRoundClosed runs on the engine's worker, Render on the HTTP
// server's threads; both are safe together (the registry has a mutex, the
// previous close time is guarded by its own). The engine and the service
// must outlive this object.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "server/engine/round_engine.h"
#include "server/service/inflight_budget.h"
#include "server/service/metrics.h"
#include "server/service/push_outcomes.h"

namespace murmur::server {

// Upper bounds of murmur_round_interval_seconds's buckets.
// Round close (aggregation + checkpoint + commit), seconds.
inline constexpr double kRoundCloseBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};
inline constexpr double kRoundIntervalBuckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                   5,    10,   30,  60,   300, 900, 3600};
// Upper bounds of murmur_update_weight's buckets (FedAU weights).
inline constexpr double kUpdateWeightBuckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                  2,    5,    10,  25,   100};

class CoordinatorMetrics {
 public:
  CoordinatorMetrics(const RoundEngine* engine, const InflightBudget* budget,
                     const PushOutcomes* outcomes);

  // One committed round (call from the engine's round observer).
  void OnRoundClosed(const RoundSummary& round);
  // The whole exposition, refreshed from the engine, budget and outcomes.
  std::string Render();

 private:
  const RoundEngine* const engine_;
  const InflightBudget* const budget_;
  const PushOutcomes* const outcomes_;
  MetricsRegistry registry_;
  std::mutex mu_;
  std::optional<double> last_close_s_;  // guarded by mu_: engine clock of the previous close
};

}  // namespace murmur::server
