#include "server/job_settings.h"

#include <gtest/gtest.h>

#include "server/engine/round_engine.h"
#include "server/store/store.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server {
namespace {

TEST(JobSettingsTest, EveryTrajectorySettingIsListedAndComparedByValue) {
  EngineConfig a{.updates_per_round = 4, .strategy = {.name = "afa_cd", .server_lr = 0.1}};
  JobSettingsMap m = JobSettingsOf(a);
  for (const char* key : {"mode", "updates_per_round", "round_deadline_s", "close_empty_rounds",
                          "max_staleness", "strategy", "strategy.server_lr",
                          "strategy.fedau_k_cut", "strategy.staleness", "recipe.local_lr",
                          "recipe.min_local_steps", "model_encoding"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_EQ(m["strategy.server_lr"], "0.10000000000000001");
  EXPECT_EQ(m["max_staleness"], "4");
  EXPECT_TRUE(CompareJobSettings(m, JobSettingsOf(a)).ok());
  EngineConfig b = a;
  b.strategy.server_lr = 0.2;
  b.recipe.local_lr = 0.01;
  b.max_rounds = 50;             // a stopping rule, not the trajectory
  b.max_concurrent_trainers = 3;  // operational
  Status s = CompareJobSettings(m, JobSettingsOf(b));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("strategy.server_lr: saved '0.10000000000000001', now '0.20000000000000001'"),
            std::string::npos) << s.message();
  EXPECT_NE(s.message().find("recipe.local_lr"), std::string::npos);
  EXPECT_EQ(s.message().find("max_rounds"), std::string::npos);
  EXPECT_EQ(s.message().find("max_concurrent_trainers"), std::string::npos);
  EXPECT_NE(s.message().find("--allow-settings-change"), std::string::npos);
  JobSettingsMap fewer = m;
  fewer.erase("mode");
  EXPECT_NE(CompareJobSettings(fewer, m).message().find("mode: saved (unset)"), std::string::npos);
}

// The clients' optimizer shapes the trajectory: a restart with another is a
// different job. Plain SGD is not listed (state saved before it was a
// setting still matches).
TEST(JobSettingsTest, TheLocalOptimizerIsASettingWhenNotSgd) {
  EngineConfig sgd;
  EXPECT_FALSE(JobSettingsOf(sgd).contains("recipe.optimizer"));
  EngineConfig momentum = sgd;
  momentum.recipe.optimizer = "momentum";
  momentum.recipe.momentum = 0.5;
  const JobSettingsMap m = JobSettingsOf(momentum);
  EXPECT_EQ(m.at("recipe.optimizer"), "momentum");
  EXPECT_EQ(m.at("recipe.momentum"), "0.5");
  const Status s = CompareJobSettings(JobSettingsOf(sgd), m);
  EXPECT_NE(s.message().find("recipe.optimizer: saved (unset), now 'momentum'"), std::string::npos)
      << s.ToString();
  EngineConfig adam = sgd;
  adam.recipe.optimizer = "adam";
  EXPECT_FALSE(JobSettingsOf(adam).contains("recipe.momentum"));
}

TEST(JobSettingsTest, ARestartWithOtherSettingsIsRefusedUnlessAllowed) {
  store::TestTempDir dir;
  ManualClock clock;
  Rng rng(1);
  const TensorList model{{"w", {2}, {1.0f, 2.0f}}};
  EngineConfig cfg{.updates_per_round = 2, .strategy = {.name = "afa_cd"}};
  {
    auto store = store::Store::Open({.dir = dir.path()});
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(RoundEngine::Create(cfg, model, &clock, &rng, store->get()).ok());
  }
  auto store = store::Store::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok());
  // Same settings: resumes.
  ASSERT_TRUE(RoundEngine::Create(cfg, model, &clock, &rng, store->get()).ok());
  EngineConfig other = cfg;
  other.updates_per_round = 3;
  auto refused = RoundEngine::Create(other, model, &clock, &rng, store->get());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("updates_per_round: saved '2', now '3'"),
            std::string::npos) << refused.status().message();
  other.allow_settings_change = true;
  ASSERT_TRUE(RoundEngine::Create(other, model, &clock, &rng, store->get()).ok());
  // The override saved the new settings: they are now what a restart must match.
  other.allow_settings_change = false;
  EXPECT_TRUE(RoundEngine::Create(other, model, &clock, &rng, store->get()).ok());
  EXPECT_FALSE(RoundEngine::Create(cfg, model, &clock, &rng, store->get()).ok());
}

}  // namespace
}  // namespace murmur::server
