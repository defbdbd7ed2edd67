// InflightBudget: the bytes and streams that PushUpdate calls may hold at
// once, across all calls of one CoordinatorService. A push reserves its
// announced payload size and one stream slot after its header is
// authenticated and size-checked, before it reads a chunk; it holds them
// (as a Lease) until the call ends, however it ends. A reservation that does
// not fit is refused at once: the service answers UNAVAILABLE ("busy,
// retry") and reads nothing, so memory stays within max_bytes plus one
// gRPC message per open stream.
//
// Threading: every method is safe to call from many threads (one mutex).
// A Lease is owned by one reactor; it must not outlive its budget.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

namespace murmur::server {

class InflightBudget {
 public:
  // Releases its reservation when destroyed (movable, not copyable).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Release(); }

    uint64_t bytes() const { return bytes_; }
    bool held() const { return budget_ != nullptr; }
    void Release();

   private:
    friend class InflightBudget;
    Lease(InflightBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    InflightBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  InflightBudget(uint64_t max_bytes, uint32_t max_streams)
      : max_bytes_(max_bytes), max_streams_(max_streams) {}
  InflightBudget(const InflightBudget&) = delete;
  InflightBudget& operator=(const InflightBudget&) = delete;

  // One stream slot plus `bytes`, or nothing when either limit would be
  // exceeded.
  std::optional<Lease> TryAcquire(uint64_t bytes);

  uint64_t max_bytes() const { return max_bytes_; }
  uint32_t max_streams() const { return max_streams_; }
  uint64_t bytes_in_flight() const;
  uint32_t streams_in_flight() const;

 private:
  void Return(uint64_t bytes);

  const uint64_t max_bytes_;
  const uint32_t max_streams_;
  mutable std::mutex mu_;
  uint64_t bytes_ = 0;     // guarded by mu_
  uint32_t streams_ = 0;   // guarded by mu_
};

}  // namespace murmur::server
