// ThreadPool: a fixed set of worker threads for the simulator's local
// training and evaluation.
//
// ParallelFor(n, fn) calls fn(worker, i) once for every i in [0, n), each
// on whichever worker is free, and returns when all are done; `worker`
// (0..size()-1) lets a caller keep one trainer per worker. The caller's own
// thread works too (as worker 0). Callers must make each result depend on i
// only, never on the worker, so results do not depend on the thread count.
//
// Threading: ParallelFor is called from one thread at a time; fn runs on
// several threads at once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace murmur::sim {

class ThreadPool {
 public:
  // `threads` >= 1 workers in all (the caller's thread included).
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return helpers_.size() + 1; }
  void ParallelFor(size_t n, const std::function<void(size_t worker, size_t i)>& fn);

 private:
  void HelperLoop(size_t worker);
  void Work(size_t worker);

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t next_ = 0;
  size_t busy_ = 0;       // helpers inside the current batch
  uint64_t batch_ = 0;    // increments per ParallelFor
  bool stopping_ = false;
  std::vector<std::thread> helpers_;
};

}  // namespace murmur::sim
