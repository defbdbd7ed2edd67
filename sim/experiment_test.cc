#include "sim/experiment.h"

#include <gtest/gtest.h>

#include "server/strategy/afa_cs.h"

namespace murmur::sim {
namespace {

const char* kGood = R"(
name = "t"
seeds = [1, 2]
rounds = 10
[workload]
kind = "regression"
clients = 30
batch = 8
local_lr = 0.01
[participation]
p_mode = "uniform"
mean_p = 0.3
pattern = "markov"
slot_s = 30
trace = "trace.csv"
[system]
k_policy = "range"
k_min = 2
k_max = 6
dropout = 0.1
[[strategy]]
name = "fedau"
[[strategy]]
name = "afa_cd"
label = "afa"
mode = "async"
updates_per_round = 5
server_lr = 4
)";

TEST(Experiment, ParsesEverySection) {
  auto e = ParseExperiment(kGood, "good.toml", "/exp");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->seeds, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(e->workload.clients, 30u);
  EXPECT_EQ(e->participation.pattern.kind, PatternKind::kMarkov);
  EXPECT_EQ(e->participation.trace, "/exp/trace.csv");
  EXPECT_EQ(e->system.k_policy, KPolicy::kRange);
  EXPECT_EQ(e->system.batch, 8);
  ASSERT_EQ(e->strategies.size(), 2u);
  EXPECT_EQ(e->strategies[0].engine.mode, server::RoundMode::kSync);
  EXPECT_EQ(e->strategies[0].engine.round_deadline_s, 30);
  EXPECT_EQ(e->strategies[0].engine.max_rounds, 10u);
  EXPECT_EQ(e->strategies[1].label, "afa");
  EXPECT_EQ(e->strategies[1].engine.mode, server::RoundMode::kAsync);
  EXPECT_EQ(e->strategies[1].engine.updates_per_round, 5u);
  EXPECT_EQ(e->strategies[1].engine.strategy.server_lr, 4);
}

void ExpectError(const std::string& text, const std::string& what) {
  auto e = ParseExperiment(text, "bad.toml", "");
  ASSERT_FALSE(e.ok()) << text;
  EXPECT_NE(e.status().message().find("bad.toml:"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find(what), std::string::npos) << e.status().message();
}

TEST(Experiment, ErrorsNameFileLineAndKey) {
  ExpectError("rounds = 3\n[[strategy]]\nname = \"fedau\"\ncolour = 1\n", "strategy.colour: unknown key");
  ExpectError("rounds = 3\n[system]\nk = \"five\"\n[[strategy]]\nname = \"fedau\"\n", "system.k");
  ExpectError("rounds = 3\n", "strategy");
  ExpectError("[[strategy]]\nname = \"fedau\"\n", "rounds");
  ExpectError("rounds = 3\n[[strategy]]\nname = \"nope\"\n", "nope");
  ExpectError("rounds = 3\n[participation]\npattern = \"weekly\"\n[[strategy]]\nname = \"fedau\"\n",
              "weekly");
  ExpectError("rounds = = 3\n", "bad.toml:1");
  ExpectError("rounds = 3\n[[strategy]]\nname = \"afa_cd\"\nmode = \"async\"\n", "updates_per_round");
}

}  // namespace
}  // namespace murmur::sim

namespace murmur::sim {
namespace {

// fedavg_known_p gets each client's true p_n from the simulator when a run
// starts, so the file itself need not (and cannot) list them.
TEST(Experiment, KnownPStrategyParsesWithoutAProbabilityTable) {
  const std::string text = std::string(R"(
name = "k"
rounds = 3
[workload]
kind = "regression"
clients = 4
[[strategy]]
name = "fedavg_known_p"
)");
  auto e = ParseExperiment(text, "k.toml", "/exp");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->strategies.size(), 1u);
  EXPECT_TRUE(e->strategies[0].engine.known_participation_prob.empty());
}

// AFA-CS's warm-up policy: the paper's zero table over all clients by
// default, "seen" on request, anything else an error naming the key.
TEST(Experiment, AfaCsWarmupParsesAndRejectsUnknownPolicies) {
  auto parse = [](const std::string& warmup_line) {
    return ParseExperiment(R"(
name = "w"
rounds = 3
[workload]
kind = "regression"
clients = 4
[[strategy]]
name = "afa_cs"
mode = "async"
updates_per_round = 2
)" + warmup_line + "\n",
                           "w.toml", "/exp");
  };
  auto plain = parse("");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->strategies[0].engine.strategy.afa_cs_warmup,
            server::strategy::AfaCsWarmup::kAllRegistered);
  auto seen = parse("afa_cs_warmup = \"seen\"");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->strategies[0].engine.strategy.afa_cs_warmup, server::strategy::AfaCsWarmup::kSeen);
  auto bad = parse("afa_cs_warmup = \"sometimes\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("afa_cs_warmup"), std::string::npos)
      << bad.status().ToString();
}

}  // namespace
}  // namespace murmur::sim
