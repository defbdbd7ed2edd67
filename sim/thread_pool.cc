#include "sim/thread_pool.h"

#include <algorithm>

namespace murmur::sim {

ThreadPool::ThreadPool(size_t threads) {
  for (size_t w = 1; w < std::max<size_t>(threads, 1); ++w) {
    helpers_.emplace_back([this, w] { HelperLoop(w); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : helpers_) t.join();
}

void ThreadPool::Work(size_t worker) {
  std::unique_lock<std::mutex> lock(mu_);
  while (next_ < n_) {
    const size_t i = next_++;
    const auto* fn = fn_;
    lock.unlock();
    (*fn)(worker, i);
    lock.lock();
  }
}

void ThreadPool::HelperLoop(size_t worker) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || batch_ != seen; });
    if (stopping_) return;
    seen = batch_;
    ++busy_;
    lock.unlock();
    Work(worker);
    lock.lock();
    if (--busy_ == 0) done_.notify_all();
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    ++batch_;
  }
  if (n > 1) wake_.notify_all();
  Work(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return busy_ == 0 && next_ >= n_; });
  fn_ = nullptr;
  n_ = 0;
}

}  // namespace murmur::sim
