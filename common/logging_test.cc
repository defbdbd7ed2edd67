#include "common/logging.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace murmur::log {
namespace {

TEST(LoggingTest, TextLineHasLevelMessageAndFields) {
  std::ostringstream out;
  InitForTest(out, Level::kInfo, Format::kText);
  Info("round closed", {{"version", 12}, {"loss", 0.25}, {"name", "fed au"}, {"ok", true}});
  std::string line = out.str();
  EXPECT_NE(line.find("info"), std::string::npos) << line;
  EXPECT_NE(line.find("round closed version=12 loss=0.25 name=\"fed au\" ok=true"),
            std::string::npos)
      << line;
}

TEST(LoggingTest, LevelFilters) {
  std::ostringstream out;
  InitForTest(out, Level::kWarn, Format::kText);
  Info("hidden");
  Debug("hidden");
  EXPECT_TRUE(out.str().empty());
  EXPECT_FALSE(Enabled(Level::kInfo));
  Warn("shown");
  EXPECT_NE(out.str().find("shown"), std::string::npos);
}

TEST(LoggingTest, JsonLineParses) {
  std::ostringstream out;
  InitForTest(out, Level::kDebug, Format::kJson);
  Debug("update \"rejected\"", {{"client", uint64_t{7}}, {"staleness", -1}});
  nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["msg"], "update \"rejected\"");
  EXPECT_EQ(j["client"], 7);
  EXPECT_EQ(j["staleness"], -1);
  EXPECT_TRUE(j.contains("ts"));
}

TEST(LoggingTest, ParseNames) {
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  Result<Level> bad = ParseLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("loud"), std::string::npos);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(LoggingTest, UnwritableFileIsAClearError) {
  Options o;
  o.file = "/proc/version/murmur.log";
  Status s = Init(o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/proc/version/murmur.log"), std::string::npos);
}

}  // namespace
}  // namespace murmur::log
