#include "common/clock.h"

namespace murmur {

// ---- TimerTable ----

TimerId TimerTable::Add(Duration when, std::function<void()> fn) {
  const TimerId id = next_id_++;
  by_time_.emplace(std::make_pair(when, id), std::move(fn));
  when_.emplace(id, when);
  return id;
}

bool TimerTable::Remove(TimerId id) {
  auto it = when_.find(id);
  if (it == when_.end()) return false;
  by_time_.erase({it->second, id});
  when_.erase(it);
  return true;
}

std::pair<TimerId, std::function<void()>> TimerTable::PopDue(Duration now) {
  if (by_time_.empty() || by_time_.begin()->first.first > now) return {0, nullptr};
  auto node = by_time_.extract(by_time_.begin());
  when_.erase(node.key().second);
  return {node.key().second, std::move(node.mapped())};
}

Duration TimerTable::Earliest() const {
  return by_time_.empty() ? Duration::max() : by_time_.begin()->first.first;
}

// ---- SystemClock ----

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

SystemClock::~SystemClock() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Duration SystemClock::Now() const {
  return std::chrono::duration_cast<Duration>(
      std::chrono::system_clock::now().time_since_epoch());
}

void SystemClock::SleepFor(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

TimerId SystemClock::ScheduleAt(Duration when, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { TimerLoop(); });
  const TimerId id = timers_.Add(when, std::move(fn));
  changed_.notify_all();
  return id;
}

bool SystemClock::Cancel(TimerId id) {
  std::unique_lock<std::mutex> lock(mu_);
  if (timers_.Remove(id)) return true;
  if (running_ == id && std::this_thread::get_id() != thread_.get_id()) {
    changed_.wait(lock, [&] { return running_ != id; });
  }
  return false;
}

void SystemClock::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto [id, fn] = timers_.PopDue(Now());
    if (fn) {
      running_ = id;
      lock.unlock();
      fn();
      lock.lock();
      running_ = 0;
      changed_.notify_all();
      continue;
    }
    const Duration earliest = timers_.Earliest();
    if (earliest == Duration::max()) {
      changed_.wait(lock);
    } else {
      // The system clock's epoch is the Unix epoch, as Now() reads it.
      changed_.wait_until(lock, std::chrono::system_clock::time_point(
                                    std::chrono::duration_cast<
                                        std::chrono::system_clock::duration>(earliest)));
    }
  }
}

// ---- ManualClock ----

Duration ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::SleepFor(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  const Duration wake = now_ + d;
  ++sleepers_;
  moved_.wait(lock, [&] { return now_ >= wake; });
  --sleepers_;
}

int ManualClock::sleepers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleepers_;
}

size_t ManualClock::pending_timers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.size();
}

TimerId ManualClock::ScheduleAt(Duration when, std::function<void()> fn) {
  TimerId id;
  bool due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = timers_.Add(when, std::move(fn));
    due = when <= now_ && running_ == 0;
  }
  // A timer already due fires now (as a real clock's would, promptly).
  if (due) FireDue();
  return id;
}

bool ManualClock::Cancel(TimerId id) {
  std::unique_lock<std::mutex> lock(mu_);
  if (timers_.Remove(id)) return true;
  if (running_ == id && std::this_thread::get_id() != running_on_) {
    moved_.wait(lock, [&] { return running_ != id; });
  }
  return false;
}

void ManualClock::FireDue() {
  std::unique_lock<std::mutex> lock(mu_);
  while (running_ == 0) {
    auto [id, fn] = timers_.PopDue(now_);
    if (!fn) break;
    running_ = id;
    running_on_ = std::this_thread::get_id();
    lock.unlock();
    fn();
    lock.lock();
    running_ = 0;
    running_on_ = std::thread::id();
    moved_.notify_all();
  }
}

void ManualClock::Advance(Duration d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (d > Duration::zero()) now_ += d;
  }
  moved_.notify_all();
  FireDue();
}

void ManualClock::Set(Duration t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (t > now_) now_ = t;
  }
  moved_.notify_all();
  FireDue();
}

}  // namespace murmur
