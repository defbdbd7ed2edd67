// Clock: murmur's injectable source of time.
//
// Production code asks a Clock for the time and to sleep, never the OS
// directly, so tests and the simulator can drive the same code with virtual
// time. SystemClock reads the real wall clock; ManualClock only moves when
// told to (Advance/Set), and its SleepFor blocks until another thread has
// advanced it far enough.
//
// Threading: all methods of both clocks are safe to call from many threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace murmur {

using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Time since the clock's epoch (Unix epoch for SystemClock).
  virtual Duration Now() const = 0;
  virtual void SleepFor(Duration d) = 0;

  double NowSeconds() const { return std::chrono::duration<double>(Now()).count(); }
};

class SystemClock final : public Clock {
 public:
  // A process-wide instance.
  static SystemClock* Default();
  Duration Now() const override;
  void SleepFor(Duration d) override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Duration start = Duration::zero()) : now_(start) {}

  Duration Now() const override;
  // Blocks until the clock reaches Now()+d (another thread must Advance it).
  void SleepFor(Duration d) override;

  void Advance(Duration d);
  // Moves the clock to t; time never goes backwards (t < Now() is ignored).
  void Set(Duration t);

  // Threads blocked in SleepFor now (lets a driver advance once all sleep).
  int sleepers() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable moved_;
  Duration now_;
  int sleepers_ = 0;
};

}  // namespace murmur
