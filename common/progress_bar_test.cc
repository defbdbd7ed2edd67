// ProgressBar: the rendered line (no terminal needed).
#include "common/progress_bar.h"

#include <gtest/gtest.h>

namespace murmur {
namespace {

TEST(ProgressBarTest, RendersALine) {
  const std::string line = ProgressBar::Render("epoch 1/2", 5, 10, 2.0, "loss 0.5", 10);
  EXPECT_EQ(line, "epoch 1/2 [#####.....]  50%  5/10  2.0s  eta 2.0s  loss 0.5");
  EXPECT_NE(ProgressBar::Render("x", 10, 10, 1.0, "", 4).find("[####] 100%"), std::string::npos);
}

}  // namespace
}  // namespace murmur
