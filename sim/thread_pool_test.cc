#include "sim/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

namespace murmur::sim {
namespace {

TEST(ThreadPool, RunsEveryIndexOnceOnEveryPoolSize) {
  for (size_t threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0, 1, 3, 100}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<size_t> max_worker{0};
      pool.ParallelFor(n, [&](size_t w, size_t i) {
        hits[i]++;
        size_t m = max_worker.load();
        while (w > m && !max_worker.compare_exchange_weak(m, w)) {
        }
      });
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << threads << " " << i;
      EXPECT_LT(max_worker.load(), threads);
    }
  }
}

TEST(ThreadPool, UsesSeveralThreads) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  pool.ParallelFor(3, [&](size_t, size_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    arrived++;
    // Each item waits (bounded) until all three have started: only possible
    // when they run at the same time.
    for (int spin = 0; spin < 2000 && arrived.load() < 3; ++spin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_EQ(ids.size(), 3u);
}

}  // namespace
}  // namespace murmur::sim
