// RoundEngine's worker thread: takes validated items off the queue in FIFO
// order, decides the final outcome of each update (staleness against the
// current version, duplicates), writes the store, closes rounds with the
// strategy, publishes versions and runs the callbacks. Everything here runs
// on the worker thread only; front state is touched under mu_.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/logging.h"
#include "server/round_engine.h"

namespace murmur::server {
namespace {

double DiffNorm(const TensorList& a, const TensorList& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].data.size(); ++j) {
      const double d = static_cast<double>(a[i].data[j]) - b[i].data[j];
      sum += d * d;
    }
  }
  return std::sqrt(sum);
}

}  // namespace

double RoundEngine::DeadlineWaitSeconds() const {
  double wait = config_.poll_interval_s;
  if (config_.round_deadline_s > 0) {
    const double left = w_opened_at_s_ + config_.round_deadline_s - clock_->NowSeconds();
    wait = std::clamp(left, 0.001, wait);
  }
  return wait;
}

void RoundEngine::WorkerLoop() {
  while (true) {
    std::deque<Item> items;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty() && !stopping_) {
        wake_.wait_for(lock, std::chrono::duration<double>(DeadlineWaitSeconds()));
      }
      items.swap(queue_);
      for (const Item& it : items) {
        if (const auto* u = std::get_if<QueuedUpdate>(&it)) {
          --queued_updates_;
          queued_bytes_ -= u->reserved_bytes;
        } else if (std::holds_alternative<store::ParticipationRecord>(it)) {
          --queued_records_;
        }
      }
      stop = stopping_ && items.empty();
    }
    for (Item& item : items) Process(item);
    MaybeCloseOnDeadline();
    if (WriteBatch()) FireCallbacks();
    for (auto& b : w_barriers_) b->set_value(w_failed_);
    w_barriers_.clear();
    if (stop) break;
  }
}

void RoundEngine::Process(Item& item) {
  if (auto* u = std::get_if<QueuedUpdate>(&item)) {
    ProcessUpdate(*u);
  } else if (auto* c = std::get_if<store::ClientRecord>(&item)) {
    if (c->left) {
      w_members_.erase(c->client_id);
    } else {
      w_members_.insert(c->client_id);
    }
    if (!w_failed_.ok()) return;
    if (store_ != nullptr) w_batch_.clients.push_back(std::move(*c));
    MaybeCloseOnCount();  // a leaving client may complete "all reported"
  } else if (auto* r = std::get_if<store::ParticipationRecord>(&item)) {
    if (!w_failed_.ok() || store_ == nullptr) return;
    r->id = w_next_participation_id_++;
    r->recorded_at_s = clock_->NowSeconds();
    w_batch_.participations.push_back(std::move(*r));
  } else if (auto* m = std::get_if<Metrics>(&item)) {
    if (!w_failed_.ok() || store_ == nullptr) return;
    w_batch_.metrics.emplace_back(m->version, std::move(m->values));
  } else if (auto* b = std::get_if<Barrier>(&item)) {
    w_barriers_.push_back(std::move(b->done));
  }
}

void RoundEngine::ProcessUpdate(QueuedUpdate& u) {
  UpdateOutcome o;
  if (!w_failed_.ok()) {
    o.reason = RejectReason::kInternal;
    o.message = "coordinator stopped: " + w_failed_.message();
    w_callbacks_.emplace_back(std::move(u.done), std::move(o));
    return;
  }
  const UpdateMeta& m = u.meta;
  store::ParticipationRecord r;
  r.client_id = m.client_id;
  r.base_version = m.base_version;
  r.local_steps = m.local_steps;
  r.num_samples = m.num_samples;
  r.mean_loss = m.mean_loss;
  r.received_at_s = u.received_at_s;
  r.recorded_at_s = clock_->NowSeconds();
  r.payload_checksum = u.checksum;
  r.local_lr = config_.recipe.local_lr;
  r.id = w_next_participation_id_++;

  auto reject = [&](RejectReason reason, std::string message, uint64_t staleness) {
    r.accepted = false;
    r.reject_reason = static_cast<int32_t>(reason);
    r.message = message;
    r.staleness = staleness;
    if (store_ != nullptr) w_batch_.participations.push_back(std::move(r));
    o.reason = reason;
    o.message = std::move(message);
    o.staleness = staleness;
    w_callbacks_.emplace_back(std::move(u.done), std::move(o));
    ++w_rejected_in_batch_;
  };
  if (config_.max_rounds != 0 && w_version_ - 1 >= config_.max_rounds) {
    return reject(RejectReason::kFinished, "the job has finished", 0);
  }
  if (m.base_version > w_version_) {  // the front checked against an older version
    return reject(RejectReason::kMalformed,
                  fmt::format("base version {} is newer than the current version {}",
                              m.base_version, w_version_),
                  0);
  }
  const uint64_t staleness = w_version_ - m.base_version;
  const uint64_t round = w_version_ + 1;
  if (staleness > config_.max_staleness) {
    return reject(RejectReason::kTooStale,
                  fmt::format("update is {} versions old when recorded (base {}, current {}); "
                              "the limit is {}",
                              staleness, m.base_version, w_version_, config_.max_staleness),
                  staleness);
  }
  const auto key = std::make_tuple(m.client_id, m.base_version, u.checksum);
  if (auto it = w_accepted_keys_.find(key); it != w_accepted_keys_.end()) {
    return reject(RejectReason::kDuplicate,
                  fmt::format("an identical update (client {}, base version {}, same payload) "
                              "was already accepted into round {}",
                              m.client_id, m.base_version, it->second),
                  staleness);
  }
  if (one_update_per_client_) {
    for (const Pending& p : w_buffer_) {
      if (p.record.client_id != m.client_id) continue;
      return reject(
          RejectReason::kDuplicate,
          fmt::format("client {} already has an update in round {}; {} takes one update per "
                      "client per round: check in again once version {} is published",
                      m.client_id, round,
                      config_.mode == RoundMode::kSync
                          ? std::string("sync mode")
                          : fmt::format("strategy {}", config_.strategy.name),
                      round),
          staleness);
    }
  }
  r.accepted = true;
  r.round_version = round;
  r.staleness = staleness;
  r.message = config_.updates_per_round > 0
                  ? fmt::format("buffered {}/{} for version {}", w_buffer_.size() + 1,
                                config_.updates_per_round, round)
                  : fmt::format("buffered {} for version {}", w_buffer_.size() + 1, round);
  o.accepted = true;
  o.staleness = staleness;
  o.round_version = round;
  o.message = r.message;
  if (store_ != nullptr) {
    w_batch_.participations.push_back(r);
    w_batch_.buffered_payloads.emplace_back(r.id, std::move(u.payload));
  }
  w_accepted_keys_[key] = round;
  w_buffer_.push_back({std::move(r), std::move(u.delta)});
  w_callbacks_.emplace_back(std::move(u.done), std::move(o));
  ++w_accepted_in_batch_;
  MaybeCloseOnCount();
}

void RoundEngine::MaybeCloseOnCount() {
  if (!w_failed_.ok() || w_buffer_.empty()) return;
  if (config_.max_rounds != 0 && w_version_ - 1 >= config_.max_rounds) return;
  if (config_.updates_per_round > 0 && w_buffer_.size() >= config_.updates_per_round) {
    return CloseRound(RoundTrigger::kBufferFull);
  }
  if (config_.mode != RoundMode::kSync || w_members_.empty()) return;
  std::set<uint64_t> reported;
  for (const Pending& p : w_buffer_) reported.insert(p.record.client_id);
  for (uint64_t id : w_members_) {
    if (!reported.contains(id)) return;
  }
  CloseRound(RoundTrigger::kAllReported);
}

void RoundEngine::MaybeCloseOnDeadline() {
  if (config_.round_deadline_s <= 0 || !w_failed_.ok()) return;
  if (config_.max_rounds != 0 && w_version_ - 1 >= config_.max_rounds) return;
  const double now = clock_->NowSeconds();
  if (now < w_opened_at_s_ + config_.round_deadline_s) return;
  if (!w_buffer_.empty() || config_.close_empty_rounds) {
    CloseRound(RoundTrigger::kDeadline);
  } else {
    w_opened_at_s_ = now;  // nothing to aggregate: give the round another deadline
  }
}

void RoundEngine::CloseRound(RoundTrigger trigger) {
  const double now = clock_->NowSeconds();
  const uint64_t new_version = w_version_ + 1;
  std::vector<strategy::ClientUpdate> updates;
  updates.reserve(w_buffer_.size());
  // Clients that left after their update was buffered still count this round.
  std::set<uint64_t> ids = w_members_;
  double loss_sum = 0;
  for (const Pending& p : w_buffer_) {
    const store::ParticipationRecord& r = p.record;
    updates.push_back({.client_id = r.client_id,
                       .delta = p.delta,
                       .local_steps = r.local_steps,
                       .num_samples = r.num_samples,
                       .base_version = r.base_version,
                       .staleness = w_version_ - r.base_version,
                       .local_lr = r.local_lr});
    ids.insert(r.client_id);
    loss_sum += r.mean_loss;
  }
  const std::vector<uint64_t> all_clients(ids.begin(), ids.end());
  strategy::RoundInput in;
  in.round = w_version_;
  in.global = &w_model_;
  in.updates = updates;
  in.all_clients = all_clients;
  if (!config_.known_participation_prob.empty()) {
    in.known_participation_prob = &config_.known_participation_prob;
  }
  Result<strategy::Step> step = strategy_->Aggregate(in, w_state_);
  Result<std::string> state_bytes =
      step.ok() ? strategy::SerializeState(step->new_state) : Result<std::string>(step.status());
  if (!state_bytes.ok()) {
    // Keep what was accepted so far (durable, still buffered), then stop.
    if (WriteBatch()) FireCallbacks();
    Fail(state_bytes.status().WithContext(fmt::format(
        "aggregating round {} with {}", new_version, config_.strategy.name)));
    return;
  }
  RoundSummary summary;
  summary.version = new_version;
  summary.trigger = trigger;
  summary.num_updates = static_cast<uint32_t>(updates.size());
  summary.update_norm = DiffNorm(step->new_global, w_model_);
  summary.mean_client_loss = updates.empty() ? 0 : loss_sum / static_cast<double>(updates.size());
  summary.closed_at_s = now;
  for (size_t i = 0; i < w_buffer_.size(); ++i) {
    summary.weights.emplace_back(w_buffer_[i].record.client_id, step->weights[i]);
  }
  if (store_ != nullptr) {
    store::RoundCommit rc;
    rc.round = {.version = new_version,
                .trigger = std::string(RoundTriggerName(trigger)),
                .num_updates = summary.num_updates,
                .update_norm = summary.update_norm,
                .mean_client_loss = summary.mean_client_loss,
                .opened_at_s = w_opened_at_s_,
                .closed_at_s = now};
    for (size_t i = 0; i < w_buffer_.size(); ++i) {
      rc.weights.emplace_back(w_buffer_[i].record.id, step->weights[i]);
    }
    rc.model = &step->new_global;
    rc.strategy = config_.strategy.name;
    rc.strategy_state = std::move(*state_bytes);
    w_batch_.round = std::move(rc);
  }
  if (!WriteBatch()) return;

  // Committed: now change the in-memory state to match.
  auto model = std::make_shared<const TensorList>(std::move(step->new_global));
  w_model_ = *model;
  w_state_ = std::move(step->new_state);
  w_version_ = new_version;
  w_buffer_.clear();
  w_opened_at_s_ = now;
  const uint64_t oldest_base =
      w_version_ > config_.max_staleness ? w_version_ - config_.max_staleness : 0;
  std::erase_if(w_accepted_keys_,
                [&](const auto& kv) { return std::get<1>(kv.first) < oldest_base; });
  summary.model = model;
  Publish(model, new_version);
  std::function<void(const RoundSummary&)> observer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = config_.max_rounds != 0 && w_version_ - 1 >= config_.max_rounds;
    observer = observer_;
  }
  log::Debug("round closed", {{"version", new_version},
                              {"trigger", std::string(RoundTriggerName(trigger))},
                              {"updates", summary.num_updates},
                              {"norm", summary.update_norm}});
  // The observer sees the round before the updates that closed it are
  // acknowledged (a blocking SubmitUpdate returns after it).
  if (observer) observer(summary);
  FireCallbacks();
}

bool RoundEngine::WriteBatch() {
  if (!w_failed_.ok()) return false;
  if (store_ != nullptr && !w_batch_.empty()) {
    Status s = store_->Write(w_batch_);
    if (!s.ok()) {
      Fail(s.WithContext("recording to the store"));
      return false;
    }
  }
  w_batch_ = store::WriteBatch();
  return true;
}

void RoundEngine::FireCallbacks() {
  std::vector<std::pair<UpdateCallback, UpdateOutcome>> callbacks;
  callbacks.swap(w_callbacks_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepted_total_ += w_accepted_in_batch_;
    rejected_total_ += w_rejected_in_batch_;
    buffered_ = w_buffer_.size();
  }
  w_accepted_in_batch_ = 0;
  w_rejected_in_batch_ = 0;
  for (auto& [done, outcome] : callbacks) done(outcome);
}

void RoundEngine::Fail(const Status& why) {
  log::Error("round engine stopped", {{"error", why.ToString()}});
  w_failed_ = why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    health_ = why;
  }
  // Nothing of the pending batch was recorded: say so to every waiting client.
  for (auto& [done, outcome] : w_callbacks_) {
    if (outcome.accepted) {
      outcome = UpdateOutcome();
      outcome.reason = RejectReason::kInternal;
      outcome.message = "the update could not be recorded (" + why.message() + ")";
    }
  }
  w_batch_ = store::WriteBatch();
  w_accepted_in_batch_ = 0;
  w_rejected_in_batch_ = 0;
  FireCallbacks();
}

}  // namespace murmur::server
