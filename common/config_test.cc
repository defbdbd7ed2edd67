#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace murmur {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddConfigFileOption(app_);
    app_.add_option("--port", port_);
    app_.add_option("--local-steps", local_steps_);
    app_.add_option("--lr", lr_);
    app_.add_option("--strategy.name", strategy_);
    app_.add_option("--tags", tags_);
    app_.add_flag("--verbose", verbose_);
    AddLogOptions(app_, &log_);
  }

  std::string WriteToml(const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("murmur_config_test_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter_++) + ".toml");
    std::ofstream(path) << text;
    files_.push_back(path);
    return path.string();
  }

  void TearDown() override {
    for (auto& f : files_) std::filesystem::remove(f);
  }

  CLI::App app_{"test"};
  int port_ = 7070;
  int local_steps_ = 1;
  double lr_ = 0.1;
  std::string strategy_ = "fedavg";
  std::vector<std::string> tags_;
  bool verbose_ = false;
  log::Options log_;
  std::vector<std::filesystem::path> files_;
  int counter_ = 0;
};

TEST_F(ConfigTest, DefaultsWithoutFile) {
  ASSERT_TRUE(ParseArgs(app_, {}).ok());
  EXPECT_EQ(port_, 7070);
  EXPECT_EQ(log_.level, log::Level::kInfo);
}

TEST_F(ConfigTest, FileSetsValues) {
  std::string path = WriteToml(R"(
port = 9000
local_steps = 5
lr = 0.05
verbose = true
tags = ["a", "b"]
[strategy]
name = "fedau"
[log]
level = "debug"
format = "json"
)");
  Status s = ParseArgs(app_, {"--config", path});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(port_, 9000);
  EXPECT_EQ(local_steps_, 5);
  EXPECT_DOUBLE_EQ(lr_, 0.05);
  EXPECT_TRUE(verbose_);
  EXPECT_EQ(strategy_, "fedau");
  EXPECT_EQ(tags_, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(log_.level, log::Level::kDebug);
  EXPECT_EQ(log_.format, log::Format::kJson);
}

TEST_F(ConfigTest, CommandLineWinsOverFile) {
  std::string path = WriteToml("port = 9000\nlr = 0.05\n");
  ASSERT_TRUE(ParseArgs(app_, {"--config", path, "--port", "9100"}).ok());
  EXPECT_EQ(port_, 9100);
  EXPECT_DOUBLE_EQ(lr_, 0.05);
}

TEST_F(ConfigTest, UnknownKeyIsAnError) {
  std::string path = WriteToml("prot = 9000\n");
  Status s = ParseArgs(app_, {"--config", path});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("prot"), std::string::npos) << s.message();
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  std::string path = WriteToml("port = 9000\nlr = = 3\n");
  Status s = ParseArgs(app_, {"--config", path});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.message();
}

TEST_F(ConfigTest, WrongTypeIsAnError) {
  std::string path = WriteToml("port = \"many\"\n");
  Status s = ParseArgs(app_, {"--config", path});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("port"), std::string::npos) << s.message();
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  Status s = ParseArgs(app_, {"--config", "/no/such/murmur.toml"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/no/such/murmur.toml"), std::string::npos) << s.message();
}

TEST_F(ConfigTest, BadLogLevelRejected) {
  Status s = ParseArgs(app_, {"--log.level", "loud"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("loud"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace murmur
