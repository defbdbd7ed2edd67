// RoundEngine's worker thread: takes validated updates off the queue in FIFO
// order and hands them to the core, runs the round jobs the core asks for
// (aggregation off the lock), writes the store, publishes versions and runs
// the callbacks. Everything here runs on the worker thread only.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/logging.h"
#include "server/engine/round_engine.h"

namespace murmur::server {

void RoundEngine::WorkerLoop() {
  while (true) {
    std::deque<Item> items;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return !queue_.empty() || stopping_ || wake_pending_; });
      wake_pending_ = false;
      items.swap(queue_);
      for (const Item& it : items) {
        if (const auto* u = std::get_if<QueuedUpdate>(&it)) {
          --queued_updates_;
          queued_bytes_ -= u->reserved_bytes;
        }
      }
      stop = stopping_ && items.empty();
    }
    std::vector<std::shared_ptr<std::promise<Status>>> barriers;
    for (Item& item : items) {
      if (auto* u = std::get_if<QueuedUpdate>(&item)) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          core_->Submit(std::move(u->update), clock_->NowSeconds());
        }
        CloseDueRounds();
      } else if (auto* b = std::get_if<Barrier>(&item)) {
        barriers.push_back(std::move(b->done));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      core_->Tick(clock_->NowSeconds());
    }
    CloseDueRounds();
    WritePending();
    ScheduleDeadline();
    Status health = this->health();
    for (auto& b : barriers) b->set_value(health);
    if (stop) break;
  }
}

void RoundEngine::CloseDueRounds() {
  while (true) {
    std::optional<core::RoundJob> job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job = core_->TakeRoundJob();
    }
    if (!job) return;
    const auto started = std::chrono::steady_clock::now();
    Result<strategy::Step> step = job->Run();  // pure: no lock needed
    SnapshotPtr snapshot;
    if (step.ok()) snapshot = Encode(step->new_global, job->new_version);
    core::PendingWrite write;
    {
      std::lock_guard<std::mutex> lock(mu_);
      core_->FinishRound(*job, std::move(step), clock_->NowSeconds());
      write = core_->TakePendingWrite();
    }
    Commit(std::move(write), std::move(snapshot), started);
  }
}

void RoundEngine::WritePending() {
  core::PendingWrite write;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!core_->HasPendingWrite()) return;
    write = core_->TakePendingWrite();
  }
  Commit(std::move(write), nullptr, std::nullopt);
}

void RoundEngine::Commit(core::PendingWrite write, SnapshotPtr snapshot,
                         std::optional<std::chrono::steady_clock::time_point> close_started) {
  Status written;
  if (store_ != nullptr && !write.batch.empty()) written = WriteWithRetry(write.batch);
  std::vector<core::Ack> acks;
  std::optional<RoundSummary> round;
  std::function<void(const RoundSummary&)> observer;
  std::vector<std::pair<UpdateCallback, UpdateOutcome>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!written.ok()) {
      acks = core_->OnWriteFailed(std::move(write), written);
      log::Error("round engine stopped", {{"error", core_->health().ToString()}});
    } else {
      core::Committed committed = core_->OnWriteCommitted(std::move(write));
      acks = std::move(committed.acks);
      round = std::move(committed.round);
      if (round) {
        previous_ = std::move(current_);
        current_ = std::move(snapshot);
        observer = observer_;
      }
    }
    for (core::Ack& a : acks) {
      auto it = waiting_.find(a.ticket);
      if (it == waiting_.end()) continue;
      callbacks.emplace_back(std::move(it->second), std::move(a.outcome));
      waiting_.erase(it);
    }
  }
  if (round) {
    if (close_started) {
      round->close_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *close_started).count();
    }
    log::Debug("round closed", {{"version", round->version},
                                {"trigger", std::string(RoundTriggerName(round->trigger))},
                                {"updates", round->num_updates},
                                {"norm", round->update_norm},
                                {"close_ms", round->close_seconds * 1e3}});
    // The observer sees the round before the updates that closed it are
    // acknowledged (a blocking SubmitUpdate returns after it).
    if (observer) observer(*round);
  }
  for (auto& [done, outcome] : callbacks) done(outcome);
}

Status RoundEngine::WriteWithRetry(const store::WriteBatch& batch) {
  // A batch that failed left nothing behind (one transaction; the checkpoint
  // file is rewritten whole), so writing it again is safe. Only errors that
  // can pass are retried: a refused batch (FAILED_PRECONDITION, ...) cannot.
  const auto start = std::chrono::steady_clock::now();
  const auto budget = std::chrono::duration<double>(core_->config().store_retry_s);
  auto pause = std::chrono::milliseconds(20);
  for (int attempt = 1;; ++attempt) {
    Status s = store_->Write(batch);
    const StatusCode c = s.code();
    const bool transient = c == StatusCode::kInternal || c == StatusCode::kUnavailable ||
                           c == StatusCode::kResourceExhausted || c == StatusCode::kAborted ||
                           c == StatusCode::kUnknown || c == StatusCode::kDeadlineExceeded;
    if (s.ok() || !transient || std::chrono::steady_clock::now() - start + pause > budget) {
      if (s.ok() && attempt > 1) log::Info("store write succeeded after retrying", {{"attempts", attempt}});
      return s;
    }
    log::Warn("store write failed; retrying", {{"attempt", attempt}, {"error", s.ToString()},
                                               {"retry_in_ms", pause.count()}});
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
  }
}

void RoundEngine::ScheduleDeadline() {
  std::optional<double> deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deadline = core_->NextDeadline();
  }
  const double at = deadline.value_or(-1);
  if (at == deadline_at_s_) return;
  if (deadline_timer_ != 0) clock_->Cancel(deadline_timer_);
  deadline_timer_ = 0;
  deadline_at_s_ = at;
  if (!deadline) return;
  deadline_timer_ = clock_->ScheduleAt(SecondsToDuration(at), [this] {
    std::lock_guard<std::mutex> lock(mu_);
    WakeWorkerLocked();
  });
}

}  // namespace murmur::server
