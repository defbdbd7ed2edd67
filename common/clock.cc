#include "common/clock.h"

#include <thread>

namespace murmur {

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

Duration SystemClock::Now() const {
  return std::chrono::duration_cast<Duration>(
      std::chrono::system_clock::now().time_since_epoch());
}

void SystemClock::SleepFor(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

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

void ManualClock::Advance(Duration d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (d > Duration::zero()) now_ += d;
  }
  moved_.notify_all();
}

void ManualClock::Set(Duration t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (t > now_) now_ = t;
  }
  moved_.notify_all();
}

}  // namespace murmur
