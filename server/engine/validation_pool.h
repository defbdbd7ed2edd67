// ValidationPool: a small fixed set of threads that run the engine's
// per-update validation (checksum, decode, finiteness, norm) so that none of
// it runs on the caller's thread, which for the service is a gRPC reactor
// thread that must never block. The queue is bounded: Post refuses work
// beyond `max_queued` jobs (the engine reserves queue room at admission, so
// it never hits the bound; the check is the last line of defence).
//
// Jobs run in no particular order across threads. Shutdown() runs every job
// already posted, then joins the threads; Post after it returns false.
//
// Threading: Post and Shutdown may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace murmur::server {

class ValidationPool {
 public:
  // `threads` 0: ThreadsFor(0).
  ValidationPool(size_t threads, size_t max_queued);
  ~ValidationPool();  // Shutdown()
  ValidationPool(const ValidationPool&) = delete;
  ValidationPool& operator=(const ValidationPool&) = delete;

  // False (and `job` is not run) when the queue is full or the pool is shut down.
  bool Post(std::function<void()> job);
  void Shutdown();

  size_t threads() const { return threads_.size(); }
  // The pool size for a configured value: `configured` when > 0, else half
  // the hardware threads, between 1 and 4.
  static size_t ThreadsFor(size_t configured);

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace murmur::server
