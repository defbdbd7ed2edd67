// Clock: murmur's injectable source of time.
//
// Production code asks a Clock for the time, to sleep and to run something
// at a given time (a timer), never the OS directly, so tests and the
// simulator can drive the same code with virtual time. SystemClock reads the
// real wall clock and fires timers on a thread of its own (started on first
// use); ManualClock only moves when told to (Advance/Set), its SleepFor blocks
// until another thread has advanced it far enough, and its timers fire inside
// Advance/Set, on the advancing thread, in time order (ties: in the order
// they were scheduled).
//
// Timers: ScheduleAt(when, fn) runs fn once, at or after `when` on this
// clock. Cancel(id) stops a timer that has not fired; when its callback is
// running on another thread at that moment, Cancel waits for it to return,
// so after Cancel the callback no longer touches anything (call Cancel
// before destroying what the callback uses). Callbacks must be quick; they
// may schedule and cancel timers.
//
// Threading: all methods of both clocks are safe to call from many threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace murmur {

using Duration = std::chrono::nanoseconds;
using TimerId = uint64_t;  // 0 is never a valid id

inline Duration SecondsToDuration(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// Pending timers ordered by (time, id); shared by the clocks below.
class TimerTable {
 public:
  TimerId Add(Duration when, std::function<void()> fn);
  bool Remove(TimerId id);
  // The earliest timer due at or before `now`, removed; nullopt-like empty fn when none.
  std::pair<TimerId, std::function<void()>> PopDue(Duration now);
  // Time of the earliest timer (Duration::max() when none).
  Duration Earliest() const;
  size_t size() const { return when_.size(); }

 private:
  TimerId next_id_ = 1;
  std::map<std::pair<Duration, TimerId>, std::function<void()>> by_time_;
  std::map<TimerId, Duration> when_;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Time since the clock's epoch (Unix epoch for SystemClock).
  virtual Duration Now() const = 0;
  virtual void SleepFor(Duration d) = 0;
  virtual TimerId ScheduleAt(Duration when, std::function<void()> fn) = 0;
  // True when the timer was pending (it will not run); false when it already
  // ran, is unknown, or is running now on this very thread.
  virtual bool Cancel(TimerId id) = 0;

  double NowSeconds() const { return std::chrono::duration<double>(Now()).count(); }
};

class SystemClock final : public Clock {
 public:
  SystemClock() = default;
  ~SystemClock() override;
  // A process-wide instance.
  static SystemClock* Default();
  Duration Now() const override;
  void SleepFor(Duration d) override;
  TimerId ScheduleAt(Duration when, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;

 private:
  void TimerLoop();

  std::mutex mu_;
  std::condition_variable changed_;
  TimerTable timers_;
  TimerId running_ = 0;  // the timer whose callback runs now (0: none)
  bool stopping_ = false;
  std::thread thread_;  // started by the first ScheduleAt
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Duration start = Duration::zero()) : now_(start) {}

  Duration Now() const override;
  // Blocks until the clock reaches Now()+d (another thread must Advance it).
  void SleepFor(Duration d) override;
  TimerId ScheduleAt(Duration when, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;

  // Both fire every timer that falls due, in time order, before returning.
  void Advance(Duration d);
  // Moves the clock to t; time never goes backwards (t < Now() is ignored).
  void Set(Duration t);

  // Threads blocked in SleepFor now (lets a driver advance once all sleep).
  int sleepers() const;
  // Timers scheduled and not yet fired or cancelled.
  size_t pending_timers() const;

 private:
  void FireDue();

  mutable std::mutex mu_;
  std::condition_variable moved_;
  Duration now_;
  int sleepers_ = 0;
  TimerTable timers_;
  TimerId running_ = 0;
  std::thread::id running_on_;
};

}  // namespace murmur
