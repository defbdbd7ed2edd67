#include "client/daemon_config.h"

#include <gtest/gtest.h>

#include "common/config.h"

#ifndef MURMUR_SOURCE_DIR
#error "MURMUR_SOURCE_DIR must be defined"
#endif

namespace murmur::client {
namespace {

Result<DaemonConfig> Parse(std::vector<std::string> args) {
  DaemonConfig c;
  CLI::App app;
  AddDaemonFlags(app, &c);
  MURMUR_RETURN_IF_ERROR(ParseArgs(app, args));
  MURMUR_RETURN_IF_ERROR(FinishDaemonConfig(&c));
  return c;
}

TEST(DaemonConfigTest, TheExampleConfigParsesAndFlagsOverrideIt) {
  const std::string example = std::string(MURMUR_SOURCE_DIR) + "/deploy/murmur-client.example.toml";
  Result<DaemonConfig> c = Parse({"--config", example, "--policy.k-max", "40"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "edge-7");
  EXPECT_EQ(c->connect.address, "127.0.0.1:7070");
  EXPECT_EQ(c->data.num_clients, 10u);
  EXPECT_EQ(c->policy.windows.size(), 2u);
  EXPECT_EQ(c->policy.k_max, 40u) << "the command line wins";
  Result<PolicyConfig> p = ToPolicyConfig(c->policy);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->k_rule, KRule::kTime);
  EXPECT_EQ(p->daily_budget_s, 3600.0);
  EXPECT_EQ(WindowToString(p->windows[1]), "sun,sat 00:00-24:00");
}

TEST(DaemonConfigTest, DataChoiceIsCheckedWithAClearError) {
  auto none = Parse({"--name", "a"});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no data"), std::string::npos);
  auto half = Parse({"--name", "a", "--data.images", "x.gz"});
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("go together"), std::string::npos);
  auto index = Parse({"--name", "a", "--data.fashion-mnist-dir", "/d", "--data.client-index", "3",
                      "--data.num-clients", "3"});
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.status().message().find("client-index 3"), std::string::npos);
  auto secret = Parse({"--name", "a", "--data.fashion-mnist-dir", "/d", "--enrollment-secret", "short"});
  ASSERT_FALSE(secret.ok());
  auto file = Parse({"--name", "a", "--data.fashion-mnist-dir", "/d", "--enrollment-secret-file",
                     "/no/such/secret"});
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("/no/such/secret"), std::string::npos);
  auto ok = Parse({"--data.fashion-mnist-dir", "/d"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(ok->name.empty()) << "the host name by default";
  EXPECT_NE(ok->seed, 0u);
}

TEST(DaemonConfigTest, BadPolicyIsNamed) {
  PolicyFlags f;
  f.windows = {"someday 10:00-11:00"};
  EXPECT_NE(ToPolicyConfig(f).status().message().find("someday"), std::string::npos);
  f = PolicyFlags{};
  f.k_rule = "often";
  EXPECT_NE(ToPolicyConfig(f).status().message().find("often"), std::string::npos);
}

}  // namespace
}  // namespace murmur::client
