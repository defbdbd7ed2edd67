#include "server/service/coordinator_metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace murmur::server {
namespace {

// Every reason a push can be rejected with, in RejectReason order.
constexpr RejectReason kRejectReasons[] = {
    RejectReason::kUnknownClient, RejectReason::kBadToken,  RejectReason::kTooStale,
    RejectReason::kMalformed,     RejectReason::kShapeMismatch, RejectReason::kNonFinite,
    RejectReason::kNormTooLarge,  RejectReason::kLocalStepsOutOfRange, RejectReason::kTooLarge,
    RejectReason::kFinished,      RejectReason::kDuplicate, RejectReason::kInternal,
    RejectReason::kBusy};

constexpr RoundTrigger kTriggers[] = {RoundTrigger::kBufferFull, RoundTrigger::kDeadline,
                                      RoundTrigger::kAllReported};

// The declarations are fixed: a failure is a programming error.
void Must(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "CoordinatorMetrics: %s\n", s.ToString().c_str());
    std::abort();
  }
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(const RoundEngine* engine, const InflightBudget* budget,
                                       const PushOutcomes* outcomes)
    : engine_(engine), budget_(budget), outcomes_(outcomes) {
  MetricsRegistry& r = registry_;
  Must(r.DeclareCounter("murmur_updates_accepted_total",
                        "PushUpdate calls answered accepted since start"));
  Must(r.DeclareCounter("murmur_updates_rejected_total",
                        "PushUpdate calls rejected since start, by reason (busy: in-flight "
                        "budget or engine queue full)"));
  Must(r.DeclareCounter("murmur_pushes_cancelled_total",
                        "PushUpdate calls the client cancelled before completing (nothing "
                        "submitted)"));
  Must(r.DeclareCounter("murmur_unauthenticated_attempts_total",
                        "Calls with an unknown client id or a bad token since start"));
  Must(r.DeclareGauge("murmur_history_updates",
                      "Updates in the store's history (all runs on this state dir), by outcome"));
  Must(r.DeclareGauge("murmur_inflight_bytes", "Payload bytes reserved by open PushUpdate calls"));
  Must(r.DeclareGauge("murmur_inflight_bytes_limit", "In-flight payload byte budget"));
  Must(r.DeclareGauge("murmur_inflight_streams", "Open PushUpdate calls holding a reservation"));
  Must(r.DeclareGauge("murmur_inflight_streams_limit", "Most PushUpdate calls held at once"));
  Must(r.DeclareGauge("murmur_model_version", "Current global model version"));
  Must(r.DeclareGauge("murmur_registered_clients", "Registered clients (not left)"));
  Must(r.DeclareGauge("murmur_active_trainers", "Clients checked in whose update is not in yet"));
  Must(r.DeclareGauge("murmur_queued_updates", "Validated updates waiting for the engine worker"));
  Must(r.DeclareGauge("murmur_buffered_updates", "Recorded updates waiting for their round"));
  Must(r.DeclareGauge("murmur_uptime_seconds", "Seconds since the engine started"));
  Must(r.DeclareGauge("murmur_job_finished", "1 once the job has finished (--max-rounds)"));
  Must(r.DeclareCounter("murmur_rounds_closed_total", "Rounds committed since start, by trigger"));
  Must(r.DeclareHistogram(
      "murmur_round_interval_seconds",
      "Seconds between consecutive round closes (engine clock; from the second round after start)",
      std::vector<double>(std::begin(kRoundIntervalBuckets), std::end(kRoundIntervalBuckets))));
  Must(r.DeclareHistogram(
      "murmur_round_close_seconds",
      "Wall seconds from a round being due to its commit: aggregation, encoding, checkpoint "
      "file and transaction",
      std::vector<double>(std::begin(kRoundCloseBuckets), std::end(kRoundCloseBuckets))));
  Must(r.DeclareGauge("murmur_last_round_updates", "Updates aggregated in the last round"));
  Must(r.DeclareGauge("murmur_last_round_update_norm",
                      "Norm of the last round's model step ||x_t+1 - x_t||"));
  Must(r.DeclareGauge("murmur_last_round_weight",
                      "FedAU weights of the last round's updates: min, mean, max"));
  Must(r.DeclareHistogram(
      "murmur_update_weight", "Weight the strategy gave each aggregated update (FedAU)",
      std::vector<double>(std::begin(kUpdateWeightBuckets), std::end(kUpdateWeightBuckets))));

  // Series that exist from the start, so that a scrape sees zeros.
  r.Set("murmur_updates_accepted_total", {}, 0);
  for (RejectReason reason : kRejectReasons) {
    r.Set("murmur_updates_rejected_total", {{"reason", std::string(RejectReasonName(reason))}}, 0);
  }
  r.Set("murmur_pushes_cancelled_total", {}, 0);
  for (RoundTrigger t : kTriggers) {
    r.Add("murmur_rounds_closed_total", {{"trigger", std::string(RoundTriggerName(t))}}, 0);
  }
}

void CoordinatorMetrics::OnRoundClosed(const RoundSummary& round) {
  registry_.Add("murmur_rounds_closed_total",
                {{"trigger", std::string(RoundTriggerName(round.trigger))}});
  {
    std::lock_guard lock(mu_);
    if (last_close_s_) {
      registry_.Observe("murmur_round_interval_seconds",
                        std::max(0.0, round.closed_at_s - *last_close_s_));
    }
    last_close_s_ = round.closed_at_s;
  }
  registry_.Observe("murmur_round_close_seconds", round.close_seconds);
  registry_.Set("murmur_last_round_updates", {}, round.num_updates);
  registry_.Set("murmur_last_round_update_norm", {}, round.update_norm);
  if (round.weights.empty()) return;
  double lo = round.weights.front().second, hi = lo, sum = 0;
  for (const auto& [client, w] : round.weights) {
    registry_.Observe("murmur_update_weight", w);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
    sum += w;
  }
  registry_.Set("murmur_last_round_weight", {{"stat", "min"}}, lo);
  registry_.Set("murmur_last_round_weight", {{"stat", "mean"}}, sum / round.weights.size());
  registry_.Set("murmur_last_round_weight", {{"stat", "max"}}, hi);
}

std::string CoordinatorMetrics::Render() {
  MetricsRegistry& r = registry_;
  r.Set("murmur_updates_accepted_total", {}, outcomes_->accepted());
  for (RejectReason reason : kRejectReasons) {
    r.Set("murmur_updates_rejected_total", {{"reason", std::string(RejectReasonName(reason))}},
          outcomes_->count(reason));
  }
  r.Set("murmur_pushes_cancelled_total", {}, outcomes_->cancelled());
  r.Set("murmur_inflight_bytes", {}, budget_->bytes_in_flight());
  r.Set("murmur_inflight_bytes_limit", {}, budget_->max_bytes());
  r.Set("murmur_inflight_streams", {}, budget_->streams_in_flight());
  r.Set("murmur_inflight_streams_limit", {}, budget_->max_streams());
  const EngineStats s = engine_->Stats();
  r.Set("murmur_unauthenticated_attempts_total", {}, s.unauthenticated_attempts);
  r.Set("murmur_history_updates", {{"outcome", "accepted"}}, s.accepted_updates);
  r.Set("murmur_history_updates", {{"outcome", "rejected"}}, s.rejected_updates);
  r.Set("murmur_model_version", {}, s.version);
  r.Set("murmur_registered_clients", {}, s.registered_clients);
  r.Set("murmur_active_trainers", {}, s.active_trainers);
  r.Set("murmur_queued_updates", {}, s.queued_updates);
  r.Set("murmur_buffered_updates", {}, s.buffered_updates);
  r.Set("murmur_uptime_seconds", {}, s.uptime_s);
  r.Set("murmur_job_finished", {}, s.finished ? 1 : 0);
  return r.Render();
}

}  // namespace murmur::server
