#include "server/engine/validation_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>

namespace murmur::server {
namespace {

TEST(ValidationPoolTest, RunsEveryJobOffTheCallersThread) {
  ValidationPool pool(2, 100);
  std::mutex mu;
  std::set<std::thread::id> ran_on;
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.Post([&] {
      std::lock_guard<std::mutex> lock(mu);
      ran_on.insert(std::this_thread::get_id());
      ++done;
    }));
  }
  pool.Shutdown();  // runs what was posted first
  EXPECT_EQ(done.load(), 50);
  EXPECT_FALSE(ran_on.contains(std::this_thread::get_id()));
  EXPECT_LE(ran_on.size(), 2u);
}

TEST(ValidationPoolTest, RefusesWorkBeyondItsBoundAndAfterShutdown) {
  ValidationPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.Post([&] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the only thread is busy; the queue is empty
  EXPECT_TRUE(pool.Post([] {}));
  EXPECT_TRUE(pool.Post([] {}));
  EXPECT_FALSE(pool.Post([] {})) << "a third queued job is over the bound of 2";
  release.set_value();
  pool.Shutdown();
  EXPECT_FALSE(pool.Post([] {}));
}

TEST(ValidationPoolTest, SizesItselfFromTheHardwareWhenNotConfigured) {
  EXPECT_EQ(ValidationPool::ThreadsFor(3), 3u);
  const size_t automatic = ValidationPool::ThreadsFor(0);
  EXPECT_GE(automatic, 1u);
  EXPECT_LE(automatic, 4u);
}

}  // namespace
}  // namespace murmur::server
