#include "sim/availability_trace.h"

#include <gtest/gtest.h>

#include <sstream>

namespace murmur::sim {
namespace {

TEST(AvailabilityTrace, ParsesMergesAndAnswersOnline) {
  std::istringstream in(
      "# a trace\n"
      "client,online_from_s,online_to_s\n"
      "0,100,200\n"
      "\n"
      "0, 0, 50\n"
      "0,150,300\n"
      "2,10.5,20\n");
  auto t = AvailabilityTrace::Parse(in, "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->num_clients(), 3u);
  ASSERT_EQ(t->intervals(0).size(), 2u);  // [0,50) and [100,300)
  EXPECT_EQ(t->intervals(0)[1].from_s, 100);
  EXPECT_EQ(t->intervals(0)[1].to_s, 300);
  EXPECT_TRUE(t->intervals(1).empty());
  EXPECT_TRUE(t->IsOnline(0, 120));
  EXPECT_FALSE(t->IsOnline(0, 60));
  EXPECT_FALSE(t->IsOnline(0, 300));
  EXPECT_TRUE(t->IsOnline(2, 10.5));
  EXPECT_FALSE(t->IsOnline(7, 10));
  EXPECT_DOUBLE_EQ(t->OnlineFraction(0, 1000), 0.25);
}

void ExpectError(const std::string& text, const std::string& where, const std::string& what) {
  std::istringstream in(text);
  auto t = AvailabilityTrace::Parse(in, "trace.csv");
  ASSERT_FALSE(t.ok()) << text;
  EXPECT_NE(t.status().message().find(where), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find(what), std::string::npos) << t.status().message();
}

TEST(AvailabilityTrace, BadLinesNameFileAndLine) {
  ExpectError("0,0,10\n1,5\n", "trace.csv:2:", "2 fields");
  ExpectError("# c\n0,0,10\nx,0,10\n", "trace.csv:3:", "client 'x'");
  ExpectError("0,abc,10\n", "trace.csv:1:", "online_from_s 'abc'");
  ExpectError("0,10,5\n", "trace.csv:1:", "greater than");
  ExpectError("0,-1,5\n", "trace.csv:1:", "negative");
  ExpectError("0,1,5,\n", "trace.csv:1:", "4 fields");
  ExpectError("-3,1,5\n", "trace.csv:1:", "client '-3'");
}

TEST(AvailabilityTrace, LoadNamesAMissingFile) {
  auto t = AvailabilityTrace::Load("/nonexistent/trace.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/nonexistent/trace.csv"), std::string::npos);
}

TEST(AvailabilityTrace, DiurnalTraceRoundTripsAndIsDaily) {
  DiurnalOptions o;
  o.clients = 200;
  o.days = 3;
  Rng rng(11);
  AvailabilityTrace t = GenerateDiurnalTrace(o, rng);
  EXPECT_EQ(t.num_clients(), 200u);
  double frac = 0;
  for (uint32_t c = 0; c < 200; ++c) frac += t.OnlineFraction(c, 3 * 86400.0) / 200;
  // ~2 sessions of ~1 h a day: about 8% online, neither never nor always.
  EXPECT_GT(frac, 0.03);
  EXPECT_LT(frac, 0.2);
  std::stringstream out;
  t.Write(out);
  auto back = AvailabilityTrace::Parse(out, "gen.csv");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  for (uint32_t c = 0; c < 200; ++c) {
    ASSERT_EQ(back->intervals(c).size(), t.intervals(c).size());
  }
  Rng again(11);
  std::stringstream out2;
  GenerateDiurnalTrace(o, again).Write(out2);
  EXPECT_EQ(out.str(), out2.str());
}

}  // namespace
}  // namespace murmur::sim
