#include "server/service/open_file_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace murmur::server {
namespace {

rlimit Current() {
  rlimit lim{};
  EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  return lim;
}

// Lowers the soft limit, raises it, and checks the process now runs at the
// hard limit and that the report says so.
TEST(OpenFileLimitTest, RaisesALoweredSoftLimitToTheHardLimit) {
  rlimit lim = Current();
  if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max < 64) GTEST_SKIP() << "unusual hard limit";
  const rlim_t hard = lim.rlim_max;
  lim.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);

  auto raised = RaiseOpenFileLimit();
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  EXPECT_EQ(raised->soft_before, 32u);
  EXPECT_EQ(raised->soft_after, hard);
  EXPECT_EQ(raised->hard, hard);
  EXPECT_EQ(Current().rlim_cur, hard);
  EXPECT_EQ(Current().rlim_max, hard);  // the hard limit is left alone
}

TEST(OpenFileLimitTest, AtTheHardLimitAlreadyNothingChanges) {
  ASSERT_TRUE(RaiseOpenFileLimit().ok());
  const rlimit before = Current();
  auto again = RaiseOpenFileLimit();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->soft_before, again->soft_after);
  EXPECT_EQ(Current().rlim_cur, before.rlim_cur);
}

}  // namespace
}  // namespace murmur::server
