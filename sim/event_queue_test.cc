#include "sim/event_queue.h"

#include <gtest/gtest.h>

namespace murmur::sim {
namespace {

TEST(EventQueue, PopsByTimeThenByPushOrder) {
  EventQueue q;
  q.Push(5.0, 1, 10);
  q.Push(1.0, 2, 11);
  q.Push(5.0, 3, 12);
  q.Push(1.0, 4, 13);
  q.Push(3.0, 5, 14);
  std::vector<int> kinds;
  while (auto e = q.Pop()) kinds.push_back(e->kind);
  EXPECT_EQ(kinds, (std::vector<int>{2, 4, 5, 1, 3}));
}

TEST(EventQueue, TracksNowAndNeverGoesBack) {
  EventQueue q;
  q.Push(2.0, 1);
  ASSERT_EQ(*q.PeekTime(), 2.0);
  ASSERT_TRUE(q.Pop().has_value());
  EXPECT_EQ(q.now_s(), 2.0);
  q.Push(1.0, 2);  // in the past: clamped to now
  EXPECT_EQ(q.Pop()->time_s, 2.0);
  EXPECT_FALSE(q.Pop().has_value());
  EXPECT_FALSE(q.PeekTime().has_value());
}

TEST(EventQueue, ManySameTimeEventsKeepFifoOrder) {
  EventQueue q;
  for (uint32_t i = 0; i < 1000; ++i) q.Push(7.0, 0, i);
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(q.Pop()->client, i);
}

}  // namespace
}  // namespace murmur::sim
