// EventQueue: the simulator's agenda of future events on a virtual clock.
//
// Events pop in order of (time, seq): seq is the order in which they were
// pushed, so two events at the same simulated time come out in the order
// they were scheduled and a run never depends on heap internals or on
// floating-point ties. An event is plain data (a kind, a client, a job id);
// the simulator decides what each kind means.
//
// Threading: none; one thread owns a queue.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace murmur::sim {

struct Event {
  double time_s = 0;
  uint64_t seq = 0;  // assigned by Push
  int kind = 0;
  uint32_t client = 0;
  uint64_t job = 0;
};

class EventQueue {
 public:
  // Schedules an event; returns its seq. A time before the last popped one is
  // clamped to it (simulated time never runs backwards).
  uint64_t Push(double time_s, int kind, uint32_t client = 0, uint64_t job = 0);
  // The earliest event, removed; nullopt when empty.
  std::optional<Event> Pop();
  // Time of the earliest event (nullopt when empty).
  std::optional<double> PeekTime() const;
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  double now_s() const { return now_s_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time_s != b.time_s ? a.time_s > b.time_s : a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t next_seq_ = 0;
  double now_s_ = 0;
};

}  // namespace murmur::sim
