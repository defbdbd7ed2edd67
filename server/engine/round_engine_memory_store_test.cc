// RoundEngine on an InMemoryStore: an engine restarted on the same store
// object in one process resumes exactly (the simulator's use), and the
// in-memory record matches what SqliteStore records for the same run.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "server/engine/round_engine.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server {
namespace {

using namespace std::chrono_literals;

const TensorList kInitial = {{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}};

bool SameBits(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].data.size() != b[i].data.size() ||
        std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * 4) != 0) {
      return false;
    }
  }
  return true;
}

// 18 updates from 4 clients, three per round, restarting the engine on the
// same `store` after the given steps. Returns the final model.
TensorList RunSchedule(store::Store* store, const EngineConfig& cfg, const std::set<int>& restart_after) {
  ManualClock clock;
  Rng rng(7);
  auto engine = RoundEngine::Create(cfg, kInitial, &clock, &rng, store);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  if (!engine.ok()) return {};
  std::vector<Registration> regs;
  for (int c = 0; c < 4; ++c) {
    const std::string name = "c" + std::to_string(c);
    regs.push_back(*(*engine)->Register(name, {}, "secret-" + name));
  }
  int step = 0;
  for (int round = 0; round < 6; ++round) {
    for (int c = 0; c < 4; ++c) {
      if (c == round % 4) continue;
      const Registration& r = regs[c];
      CheckInDecision d = *(*engine)->CheckIn(r.client_id, r.token, 2 + c);
      const float base = static_cast<float>(d.model_version);
      UpdateMeta meta{.client_id = r.client_id, .token = r.token,
                      .base_version = d.model_version, .local_steps = d.local_steps,
                      .num_samples = 10 * r.client_id, .mean_loss = 0.25 * double(r.client_id)};
      UpdateOutcome o = (*engine)->SubmitUpdate(
          meta, *EncodeTensors({{"w", {2}, {0.01f * base + 0.1f * float(c), -0.02f * float(c + 1)}},
                                {"b", {1}, {0.05f / base}}}));
      EXPECT_TRUE(o.accepted) << cfg.strategy.name << " step " << step << ": " << o.message;
      clock.Advance(1s);
      if (restart_after.contains(step)) {
        engine->reset();
        engine = RoundEngine::Create(cfg, kInitial, &clock, &rng, store);
        EXPECT_TRUE(engine.ok()) << engine.status().ToString();
        if (!engine.ok()) return {};
      }
      ++step;
    }
  }
  EXPECT_TRUE((*engine)->Flush().ok());
  EXPECT_EQ((*engine)->version(), 7u) << cfg.strategy.name;
  return (*engine)->GlobalModel();
}

class EngineOnMemoryStoreTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(EngineOnMemoryStoreTest, RestartsOnTheSameStoreObjectResumeExactly) {
  EngineConfig cfg{.updates_per_round = 3, .strategy = {.name = std::string(GetParam())}};
  cfg.known_participation_prob = {{1, 0.75}, {2, 0.75}, {3, 0.75}, {4, 0.75}};
  auto memory = store::InMemoryStore::Create();
  store::TestTempDir dir;
  auto sqlite = store::SqliteStore::Open({.dir = dir.path(), .synchronous_full = false});
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  const TensorList with_restarts = RunSchedule(memory.get(), cfg, {0, 1, 2, 4, 8, 13, 17});
  const TensorList on_sqlite = RunSchedule(sqlite->get(), cfg, {});
  const TensorList no_store = RunSchedule(nullptr, cfg, {});
  EXPECT_TRUE(SameBits(with_restarts, on_sqlite)) << GetParam();
  EXPECT_TRUE(SameBits(with_restarts, no_store)) << GetParam();
  // The same record: strategy state, rounds, weights, participations.
  auto rm = *memory->Recover(SpecOf(kInitial), 0);
  auto rs = *(*sqlite)->Recover(SpecOf(kInitial), 0);
  EXPECT_EQ(rm.strategy_state, rs.strategy_state);
  EXPECT_EQ(rm.clients.size(), rs.clients.size());
  EXPECT_EQ(rm.next_participation_id, rs.next_participation_id);
  for (uint64_t v = 2; v <= 7; ++v) {
    auto pm = *memory->RoundParticipants(v);
    auto ps = *(*sqlite)->RoundParticipants(v);
    ASSERT_EQ(pm.size(), 3u);
    ASSERT_EQ(pm.size(), ps.size());
    for (size_t i = 0; i < pm.size(); ++i) {
      EXPECT_EQ(pm[i].client_id, ps[i].client_id);
      ASSERT_TRUE(pm[i].weight.has_value());
      EXPECT_EQ(*pm[i].weight, *ps[i].weight);
    }
    EXPECT_TRUE(SameBits(*memory->LoadCheckpoint(v), *(*sqlite)->LoadCheckpoint(v))) << v;
  }
  EXPECT_EQ(*memory->IntegrityCheck(), "ok");
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, EngineOnMemoryStoreTest,
                         ::testing::ValuesIn(strategy::StrategyNames()),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace murmur::server
