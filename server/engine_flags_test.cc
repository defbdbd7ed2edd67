#include "server/engine_flags.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/config.h"

namespace murmur::server {
namespace {

class EngineFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddConfigFileOption(app_);
    AddEngineFlags(app_, &cfg_, &values_);
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  std::string Write(const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("murmur_engine_flags_test_" + std::to_string(::getpid()) + "_" +
                 std::to_string(files_.size()) + ".toml");
    std::ofstream(path) << text;
    files_.push_back(path);
    return path.string();
  }

  // Parses and finishes; the first error.
  Status Parse(std::vector<std::string> args) {
    MURMUR_RETURN_IF_ERROR(ParseArgs(app_, std::move(args)));
    return FinishEngineFlags(values_, &cfg_);
  }

  CLI::App app_{"test"};
  EngineConfig cfg_;
  EngineFlagValues values_;
  std::vector<std::filesystem::path> files_;
};

bool Contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST_F(EngineFlagsTest, DefaultsAreTheConfigsOwn) {
  ASSERT_TRUE(Parse({}).ok());
  const EngineConfig d;
  EXPECT_EQ(cfg_.strategy.name, d.strategy.name);
  EXPECT_EQ(cfg_.strategy.fedau_k_cut, 50u);
  EXPECT_EQ(cfg_.strategy.staleness.kind, strategy::StalenessKind::kDefault);
  EXPECT_EQ(cfg_.strategy.afa_cs_warmup, strategy::AfaCsWarmup::kAllRegistered);
  EXPECT_EQ(cfg_.strategy.fedbuff_buffer_size, 0u);
  EXPECT_EQ(cfg_.mode, RoundMode::kAsync);
  EXPECT_EQ(cfg_.updates_per_round, d.updates_per_round);
  EXPECT_FALSE(cfg_.max_staleness.has_value()) << "unset: the mode's default";
  EXPECT_FALSE(values_.max_staleness_given);
  EXPECT_EQ(cfg_.recipe.update_encoding, Encoding::kFp32);
  EXPECT_EQ(cfg_.model_encoding, Encoding::kFp32);
  EXPECT_TRUE(cfg_.known_p_by_name.empty());
  EXPECT_TRUE(cfg_.require_credential) << "a client's name is bound to a credential by default";
}

TEST_F(EngineFlagsTest, AllowAnonymousClientsTurnsOffTheCredentialRequirement) {
  ASSERT_TRUE(Parse({"--allow-anonymous-clients"}).ok());
  EXPECT_FALSE(cfg_.require_credential);
}

TEST(EngineFlagsDefaultsTest, ACallersDefaultsShowInHelpAndSurviveParsing) {
  CLI::App app{"test"};
  EngineConfig cfg;
  cfg.strategy.name = "afa_cd";
  cfg.strategy.fedau_k_cut = 0;
  cfg.mode = RoundMode::kSync;
  cfg.model_encoding = Encoding::kBf16;
  EngineFlagValues values;
  AddEngineFlags(app, &cfg, &values);
  const std::string help = app.help();
  EXPECT_NE(help.find("afa_cd"), std::string::npos) << help;
  EXPECT_NE(help.find("inf"), std::string::npos);
  ASSERT_TRUE(ParseArgs(app, {}).ok());
  ASSERT_TRUE(FinishEngineFlags(values, &cfg).ok());
  EXPECT_EQ(cfg.strategy.name, "afa_cd");
  EXPECT_EQ(cfg.strategy.fedau_k_cut, 0u);
  EXPECT_EQ(cfg.mode, RoundMode::kSync);
  EXPECT_EQ(cfg.model_encoding, Encoding::kBf16);
}

TEST_F(EngineFlagsTest, EveryFlagHasHelpText) {
  size_t flags = 0;
  for (const CLI::Option* opt : app_.get_options()) {
    const std::string name = opt->get_name();
    if (name.find("help") != std::string::npos || name.find("config") != std::string::npos) {
      continue;
    }
    EXPECT_FALSE(opt->get_description().empty()) << opt->get_name();
    ++flags;
  }
  EXPECT_GE(flags, 32u);
}

TEST_F(EngineFlagsTest, CommandLineSetsEveryField) {
  Status s = Parse({"--strategy", "afa_fedau", "--server-lr", "0.5", "--sample-weighted",
                    "--fedau-k-cut", "20", "--afa-local-lr", "0.01", "--staleness", "hinge",
                    "--staleness-a", "2", "--staleness-b", "3", "--afa-cs-warmup", "seen",
                    "--fedbuff-buffer-size", "8", "--mode", "sync", "--updates-per-round", "6",
                    "--round-deadline-s", "2.5", "--close-empty-rounds", "--max-staleness", "0",
                    "--max-rounds", "100", "--max-trainers", "7", "--wait-retry-s", "3",
                    "--local-lr", "0.2", "--batch", "32", "--min-k", "2", "--max-k", "9",
                    "--local-optimizer", "momentum", "--local-momentum", "0.5",
                    "--update-encoding", "int8", "--model-encoding", "fp16",
                    "--max-update-norm", "10", "--max-update-bytes", "1000",
                    "--max-queued-updates", "5", "--max-queued-bytes", "2000",
                    "--busy-retry-s", "0.5", "--max-queued-records", "11"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  const strategy::StrategyConfig& st = cfg_.strategy;
  EXPECT_EQ(st.name, "afa_fedau");
  EXPECT_EQ(st.server_lr, 0.5);
  EXPECT_TRUE(st.sample_weighted);
  EXPECT_EQ(st.fedau_k_cut, 20u);
  EXPECT_EQ(st.afa_local_lr, 0.01);
  EXPECT_EQ(st.staleness.kind, strategy::StalenessKind::kHinge);
  EXPECT_EQ(st.staleness.a, 2.0);
  EXPECT_EQ(st.staleness.b, 3.0);
  EXPECT_EQ(st.afa_cs_warmup, strategy::AfaCsWarmup::kSeen);
  EXPECT_EQ(st.fedbuff_buffer_size, 8u);
  EXPECT_EQ(cfg_.mode, RoundMode::kSync);
  EXPECT_EQ(cfg_.updates_per_round, 6u);
  EXPECT_EQ(cfg_.round_deadline_s, 2.5);
  EXPECT_TRUE(cfg_.close_empty_rounds);
  EXPECT_EQ(cfg_.max_staleness, std::optional<uint64_t>(0));
  EXPECT_TRUE(values_.max_staleness_given);
  EXPECT_EQ(cfg_.max_rounds, 100u);
  EXPECT_EQ(cfg_.max_concurrent_trainers, 7u);
  EXPECT_EQ(cfg_.wait_retry_s, 3.0);
  EXPECT_EQ(cfg_.recipe.local_lr, 0.2);
  EXPECT_EQ(cfg_.recipe.batch_size, 32u);
  EXPECT_EQ(cfg_.recipe.min_local_steps, 2u);
  EXPECT_EQ(cfg_.recipe.max_local_steps, 9u);
  EXPECT_EQ(cfg_.recipe.update_encoding, Encoding::kInt8);
  EXPECT_EQ(cfg_.recipe.optimizer, "momentum");
  EXPECT_EQ(cfg_.recipe.momentum, 0.5);
  EXPECT_EQ(cfg_.model_encoding, Encoding::kFp16);
  EXPECT_EQ(cfg_.max_update_norm, 10.0);
  EXPECT_EQ(cfg_.max_update_bytes, 1000u);
  EXPECT_EQ(cfg_.max_queued_updates, 5u);
  EXPECT_EQ(cfg_.max_queued_bytes, 2000u);
  EXPECT_EQ(cfg_.busy_retry_s, 0.5);
  EXPECT_EQ(cfg_.max_queued_records, 11u);
  EXPECT_TRUE(ValidateEngineConfig(cfg_).ok()) << ValidateEngineConfig(cfg_).ToString();
}

// The recipe's optimizer is one a client implements; a typo fails at start,
// not at every client.
TEST_F(EngineFlagsTest, UnknownLocalOptimizerIsRefused) {
  EXPECT_FALSE(Parse({"--local-optimizer", "lion"}).ok());
  EngineConfig c;
  c.recipe.optimizer = "lion";
  const Status st = ValidateEngineConfig(c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("unknown optimizer 'lion' (known: sgd, momentum, adam, adamw)"),
            std::string::npos)
      << st.ToString();
  c.recipe.optimizer = "momentum";
  c.recipe.momentum = 1.0;
  EXPECT_EQ(ValidateEngineConfig(c).code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineFlagsTest, ConfigFileSetsFlagsAndTheCommandLineWins) {
  const std::string path = Write(
      "strategy = \"fedau\"\n"
      "fedau_k_cut = \"inf\"\n"
      "close_empty_rounds = true\n"
      "mode = \"sync\"\n"
      "round-deadline-s = 4.0\n"
      "staleness = \"none\"\n"
      "server_lr = 0.25\n");
  Status s = Parse({"--config", path, "--server-lr", "2"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg_.strategy.name, "fedau");
  EXPECT_EQ(cfg_.strategy.fedau_k_cut, 0u);  // infinity
  EXPECT_TRUE(cfg_.close_empty_rounds);
  EXPECT_EQ(cfg_.mode, RoundMode::kSync);
  EXPECT_EQ(cfg_.round_deadline_s, 4.0);
  EXPECT_EQ(cfg_.strategy.staleness.kind, strategy::StalenessKind::kNone);
  EXPECT_EQ(cfg_.strategy.server_lr, 2.0);
  EXPECT_FALSE(values_.max_staleness_given);
}

TEST_F(EngineFlagsTest, FedAuKCutInfinity) {
  ASSERT_TRUE(Parse({"--fedau-k-cut", "inf"}).ok());
  EXPECT_EQ(cfg_.strategy.fedau_k_cut, 0u);
  values_.fedau_k_cut = "0";
  ASSERT_TRUE(FinishEngineFlags(values_, &cfg_).ok());
  EXPECT_EQ(cfg_.strategy.fedau_k_cut, 0u);
  values_.fedau_k_cut = "infinity";
  ASSERT_TRUE(FinishEngineFlags(values_, &cfg_).ok());
  EXPECT_EQ(cfg_.strategy.fedau_k_cut, 0u);
  for (const char* bad : {"-3", "5x", "", "1.5"}) {
    values_.fedau_k_cut = bad;
    Status s = FinishEngineFlags(values_, &cfg_);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(Contains(s, "--fedau-k-cut")) << s.ToString();
  }
}

TEST_F(EngineFlagsTest, BadWordsAreClearErrors) {
  Status s = ParseArgs(app_, {"--strategy", "fedsgd"});
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, "fedsgd")) << s.ToString();
  EXPECT_TRUE(Contains(s, "--strategy")) << s.ToString();
}

TEST(EngineFlagsErrorsTest, EachWordFlagRejectsAnUnknownWord) {
  for (const char* flag : {"--mode", "--staleness", "--afa-cs-warmup", "--update-encoding",
                           "--model-encoding"}) {
    CLI::App app{"test"};
    EngineConfig cfg;
    EngineFlagValues values;
    AddEngineFlags(app, &cfg, &values);
    Status s = ParseArgs(app, {flag, "bogus"});
    EXPECT_FALSE(s.ok()) << flag;
    EXPECT_TRUE(Contains(s, flag)) << s.ToString();
    // The same word set directly (a caller bypassing the parser) fails in Finish.
    EngineFlagValues direct = values;
    if (std::string(flag) == "--mode") direct.mode = "bogus";
    if (std::string(flag) == "--staleness") direct.staleness = "bogus";
    if (std::string(flag) == "--afa-cs-warmup") direct.afa_cs_warmup = "bogus";
    if (std::string(flag) == "--update-encoding") direct.update_encoding = "bogus";
    if (std::string(flag) == "--model-encoding") direct.model_encoding = "bogus";
    Status f = FinishEngineFlags(direct, &cfg);
    EXPECT_EQ(f.code(), StatusCode::kInvalidArgument) << flag;
    EXPECT_TRUE(Contains(f, flag)) << f.ToString();
  }
}

TEST_F(EngineFlagsTest, KnownPFileByClientName) {
  const std::string path = Write(
      "# p_n per client name\n"
      "[known_p]\n"
      "alice = 0.25\n"
      "\"edge-7\" = 1\n");
  Status s = Parse({"--strategy", "fedavg_known_p", "--known-p-file", path});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg_.known_p_by_name,
            (std::map<std::string, double>{{"alice", 0.25}, {"edge-7", 1.0}}));
  EXPECT_TRUE(ValidateEngineConfig(cfg_).ok()) << ValidateEngineConfig(cfg_).ToString();
}

TEST_F(EngineFlagsTest, KnownPStrategyWithoutProbabilitiesIsRejectedAtStart) {
  ASSERT_TRUE(Parse({"--strategy", "fedavg_known_p"}).ok());
  Status s = ValidateEngineConfig(cfg_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "fedavg_known_p")) << s.ToString();
  EXPECT_TRUE(Contains(s, "--known-p-file")) << s.ToString();
  // Other strategies do not need them.
  cfg_.strategy.name = "fedau";
  EXPECT_TRUE(ValidateEngineConfig(cfg_).ok());
  // Ids are accepted too (the simulator knows them), and checked.
  cfg_.strategy.name = "fedavg_known_p";
  cfg_.known_participation_prob = {{1, 0.5}};
  EXPECT_TRUE(ValidateEngineConfig(cfg_).ok());
  cfg_.known_participation_prob = {{1, 0.0}};
  EXPECT_EQ(ValidateEngineConfig(cfg_).code(), StatusCode::kInvalidArgument);
  cfg_.known_participation_prob.clear();
  cfg_.known_p_by_name = {{"bob", 1.5}};
  s = ValidateEngineConfig(cfg_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "bob")) << s.ToString();
}

TEST_F(EngineFlagsTest, KnownPFileErrorsNameTheFileAndKey) {
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases = {
      {"[known_p]\nalice = 1.5\n", "known_p.alice"},
      {"[known_p]\nalice = 0\n", "known_p.alice"},
      {"[known_p]\nalice = -0.1\n", "known_p.alice"},
      {"[known_p]\nalice = nan\n", "known_p.alice"},
      {"[known_p]\nbob = \"half\"\n", "known_p.bob"},
      {"[known_p]\n", "empty"},
      {"alice = 0.5\n", "unknown key 'alice'"},
      {"[other]\nalice = 0.5\n", "unknown key 'other'"},
      {"known_p = 3\n", "no [known_p] table"},
      {"[known_p\nalice = 0.5\n", "not valid TOML: line 1"},
  };
  for (const Case& c : cases) {
    const std::string path = Write(c.text);
    Result<std::map<std::string, double>> r = LoadKnownPFile(path);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_TRUE(Contains(r.status(), path)) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status(), c.want)) << r.status().ToString();
  }
  Status missing = Parse({"--known-p-file", "/nonexistent/murmur-p.toml"});
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing, "/nonexistent/murmur-p.toml")) << missing.ToString();
}

}  // namespace
}  // namespace murmur::server
