#include "sim/event_queue.h"

#include <algorithm>

namespace murmur::sim {

uint64_t EventQueue::Push(double time_s, int kind, uint32_t client, uint64_t job) {
  Event e;
  e.time_s = std::max(time_s, now_s_);
  e.seq = next_seq_++;
  e.kind = kind;
  e.client = client;
  e.job = job;
  heap_.push(e);
  return e.seq;
}

std::optional<Event> EventQueue::Pop() {
  if (heap_.empty()) return std::nullopt;
  Event e = heap_.top();
  heap_.pop();
  now_s_ = e.time_s;
  return e;
}

std::optional<double> EventQueue::PeekTime() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().time_s;
}

}  // namespace murmur::sim
