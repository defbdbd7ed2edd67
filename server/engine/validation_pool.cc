#include "server/engine/validation_pool.h"

#include <algorithm>

namespace murmur::server {

size_t ValidationPool::ThreadsFor(size_t configured) {
  if (configured > 0) return configured;
  const size_t hw = std::thread::hardware_concurrency();
  return std::clamp<size_t>(hw / 2, 1, 4);
}

ValidationPool::ValidationPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  const size_t n = ThreadsFor(threads);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

ValidationPool::~ValidationPool() { Shutdown(); }

bool ValidationPool::Post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

void ValidationPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ValidationPool::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything posted has run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace murmur::server
