// PushOutcomes: how the PushUpdate calls of one CoordinatorService ended,
// counted since start, for the metrics endpoint. Every answered push counts
// once: accepted (RejectReason::kNone), or rejected with its reason (the
// header checks, the stream checks, the engine's verdict; "busy" for a full
// in-flight budget or engine queue, "malformed" for a stream without a
// header). A push the client cancelled counts as cancelled.
//
// Threading: lock-free atomic counters, safe from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "server/engine_types.h"

namespace murmur::server {

class PushOutcomes {
 public:
  // The largest RejectReason value counted (kBusy).
  static constexpr int kMaxReason = static_cast<int>(RejectReason::kBusy);

  void Record(RejectReason reason) {
    const int i = static_cast<int>(reason);
    if (i >= 0 && i <= kMaxReason) counts_[i].fetch_add(1, std::memory_order_relaxed);
  }
  void RecordCancelled() { cancelled_.fetch_add(1, std::memory_order_relaxed); }

  uint64_t accepted() const { return count(RejectReason::kNone); }
  uint64_t count(RejectReason reason) const {
    const int i = static_cast<int>(reason);
    return i >= 0 && i <= kMaxReason ? counts_[i].load(std::memory_order_relaxed) : 0;
  }
  uint64_t cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kMaxReason + 1> counts_{};
  std::atomic<uint64_t> cancelled_{0};
};

}  // namespace murmur::server
