// RoundEngine with a Store: history, exact restart for every strategy,
// exactly-once across restarts, fail-stop on store errors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <future>
#include <thread>

#include "common/token_digest.h"
#include "server/engine/round_engine.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server {
namespace {

using namespace std::chrono_literals;
using store::Store;
using store::TestTempDir;

const TensorList kInitial = {{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}};

std::string Delta(float w0, float w1, float b) {
  return *EncodeTensors({{"w", {2}, {w0, w1}}, {"b", {1}, {b}}});
}

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

class EngineWithStore {
 public:
  EngineWithStore(const std::string& dir, EngineConfig cfg, Clock* clock)
      : cfg_(std::move(cfg)), clock_(clock) {
    if (!dir.empty()) {
      auto s = Store::Open({.dir = dir});
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    }
    auto e = RoundEngine::Create(cfg_, kInitial, clock_, &rng_, store_.get());
    status_ = e.status();
    if (e.ok()) engine = std::move(*e);
  }
  ~EngineWithStore() { engine.reset(); }

  Status status_;
  EngineConfig cfg_;
  Clock* clock_;
  Rng rng_{7};
  std::unique_ptr<Store> store_;
  std::unique_ptr<RoundEngine> engine;
};

UpdateMeta Meta(const Registration& r, uint64_t base, uint32_t k = 2) {
  return {.client_id = r.client_id, .token = r.token, .base_version = base, .local_steps = k,
          .num_samples = 10 * r.client_id, .mean_loss = 0.25 * double(r.client_id)};
}

// Runs a fixed schedule of 18 updates from 4 clients (three per round, a
// different one sitting out each round), restarting the engine at the given
// steps. Returns the final model.
TensorList RunSchedule(const std::string& dir, const EngineConfig& cfg,
                       const std::set<int>& restart_after) {
  ManualClock clock;
  auto h = std::make_unique<EngineWithStore>(dir, cfg, &clock);
  EXPECT_TRUE(h->status_.ok()) << h->status_.ToString();
  std::vector<Registration> regs;
  for (int c = 0; c < 4; ++c) {
    const std::string name = "c" + std::to_string(c);
    regs.push_back(*h->engine->Register(name, {}, "secret-" + name));
  }
  int step = 0;
  for (int round = 0; round < 6; ++round) {
    for (int c = 0; c < 4; ++c) {
      if (c == round % 4) continue;
      const Registration& r = regs[c];
      CheckInDecision d = *h->engine->CheckIn(r.client_id, r.token, 2 + c);
      const float base = static_cast<float>(d.model_version);
      UpdateOutcome o = h->engine->SubmitUpdate(
          Meta(r, d.model_version, d.local_steps),
          Delta(0.01f * base + 0.1f * float(c), -0.02f * float(c + 1), 0.05f / base));
      EXPECT_TRUE(o.accepted) << cfg.strategy.name << " step " << step << ": " << o.message;
      clock.Advance(1s);
      if (restart_after.contains(step)) {
        h.reset();  // a clean stop; the kill -9 test covers crashes
        h = std::make_unique<EngineWithStore>(dir, cfg, &clock);
        EXPECT_TRUE(h->status_.ok()) << h->status_.ToString();
      }
      ++step;
    }
  }
  EXPECT_TRUE(h->engine->Flush().ok());
  EXPECT_EQ(h->engine->version(), 7u) << cfg.strategy.name;
  return h->engine->GlobalModel();
}

class EngineRestartTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(EngineRestartTest, RestartsContinueTheSameTrajectoryBitForBit) {
  EngineConfig cfg{.updates_per_round = 3, .strategy = {.name = std::string(GetParam())}};
  cfg.known_participation_prob = {{1, 0.75}, {2, 0.75}, {3, 0.75}, {4, 0.75}};
  TestTempDir a, b;
  const TensorList with_restarts = RunSchedule(a.path(), cfg, {0, 1, 2, 4, 8, 13, 17});
  const TensorList without = RunSchedule(b.path(), cfg, {});
  const TensorList in_memory = RunSchedule("", cfg, {});
  EXPECT_TRUE(SameBits(with_restarts, without)) << GetParam();
  EXPECT_TRUE(SameBits(in_memory, without)) << GetParam();
  // Same strategy state and the same recorded weights.
  auto sa = *Store::Open({.dir = a.path()});
  auto sb = *Store::Open({.dir = b.path()});
  auto ra = *sa->Recover(SpecOf(kInitial), 0);
  auto rb = *sb->Recover(SpecOf(kInitial), 0);
  EXPECT_EQ(ra.strategy_state, rb.strategy_state);
  EXPECT_FALSE(ra.strategy_state.empty());
  for (uint64_t v = 2; v <= 7; ++v) {
    auto pa = *sa->RoundParticipants(v);
    auto pb = *sb->RoundParticipants(v);
    ASSERT_EQ(pa.size(), 3u);
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_EQ(pa[i].client_id, pb[i].client_id);
      ASSERT_TRUE(pa[i].weight.has_value());
      EXPECT_EQ(*pa[i].weight, *pb[i].weight);
    }
  }
  EXPECT_EQ(*sa->IntegrityCheck(), "ok");
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, EngineRestartTest,
                         ::testing::ValuesIn(strategy::StrategyNames()),
                         [](const auto& info) { return std::string(info.param); });

TEST(EngineStoreTest, EveryAttemptIsRecordedWithItsReason) {
  TestTempDir dir;
  ManualClock clock;
  EngineWithStore h(dir.path(), {.updates_per_round = 2}, &clock);
  ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
  RoundEngine& e = *h.engine;
  Registration a = *e.Register("a", {}, "secret-a"), b = *e.Register("b", {}, "secret-b");
  Registration forged = a;
  forged.token = "nope";
  EXPECT_EQ(e.SubmitUpdate(Meta(forged, 1), Delta(1, 0, 0)).reason, RejectReason::kBadToken);
  EXPECT_EQ(e.SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).reason, RejectReason::kDuplicate);
  (void)e.CheckIn(a.client_id, a.token, 2);
  EXPECT_EQ(e.SubmitUpdate(Meta(a, 1, 999), Delta(1, 0, 0)).reason,
            RejectReason::kLocalStepsOutOfRange);
  (void)e.CheckIn(a.client_id, a.token, 2);
  EXPECT_EQ(e.SubmitUpdate(Meta(a, 1), "garbage").reason, RejectReason::kMalformed);
  (void)e.CheckIn(a.client_id, a.token, 2);
  EXPECT_TRUE(e.SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).accepted);
  (void)e.CheckIn(b.client_id, b.token, 2);
  EXPECT_TRUE(e.SubmitUpdate(Meta(b, 1), Delta(3, 0, 0)).accepted);
  Registration stranger{.client_id = 99, .token = "t"};
  EXPECT_EQ(e.SubmitUpdate(Meta(stranger, 1), Delta(1, 0, 0)).reason, RejectReason::kUnknownClient);
  e.RecordMetrics(2, {{"test_mse", 0.125}});
  ASSERT_TRUE(e.Flush().ok());
  EXPECT_EQ(e.version(), 2u);
  auto hist = *h.store_->ClientHistory(a.client_id, 0);
  ASSERT_EQ(hist.size(), 4u);  // the forged-token attempt is not a's: counted, not recorded
  EXPECT_TRUE(hist[0].accepted);
  EXPECT_EQ(hist[0].round_version, 2u);
  EXPECT_DOUBLE_EQ(*hist[0].weight, 0.5);
  EXPECT_EQ(hist[0].num_samples, 10u);
  EXPECT_EQ(hist[1].reject_reason, static_cast<int>(RejectReason::kMalformed));
  EXPECT_EQ(hist[2].reject_reason, static_cast<int>(RejectReason::kLocalStepsOutOfRange));
  EXPECT_NE(hist[2].message.find("K=999"), std::string::npos) << hist[2].message;
  EXPECT_EQ(hist[3].reject_reason, static_cast<int>(RejectReason::kDuplicate));
  EXPECT_EQ(h.store_->ClientHistory(99, 0)->size(), 0u);
  EXPECT_EQ(e.Stats().unauthenticated_attempts, 2u);
  auto rounds = *h.store_->ListRounds(0, 0);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].trigger, "buffer_full");
  EXPECT_DOUBLE_EQ(rounds[0].metrics.at("test_mse"), 0.125);
  EXPECT_EQ(e.Stats().rejected_updates, 3u);
}

TEST(EngineStoreTest, ExactlyOnceAcrossARestart) {
  TestTempDir dir;
  ManualClock clock;
  const EngineConfig cfg{.updates_per_round = 3, .strategy = {.name = "afa_cd"}};
  Registration a, b;
  {
    EngineWithStore h(dir.path(), cfg, &clock);
    a = *h.engine->Register("a", {}, "secret-a");
    b = *h.engine->Register("b", {}, "secret-b");
    (void)h.engine->CheckIn(a.client_id, a.token, 2);
    (void)h.engine->CheckIn(b.client_id, b.token, 2);
    ASSERT_TRUE(h.engine->SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).accepted);
  }  // the coordinator goes away; b was still training
  EngineWithStore h(dir.path(), cfg, &clock);
  ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
  RoundEngine& e = *h.engine;
  EXPECT_EQ(e.Stats().buffered_updates, 1u);
  // b finishes the round it started before the restart (same session token).
  UpdateOutcome ob = e.SubmitUpdate(Meta(b, 1), Delta(0, 1, 0));
  EXPECT_TRUE(ob.accepted) << ob.message;
  // a never got its answer and resends: answered accepted as before, counted once.
  UpdateOutcome again = e.SubmitUpdate(Meta(a, 1), Delta(1, 0, 0));
  EXPECT_TRUE(again.accepted) << again.message;
  EXPECT_EQ(again.round_version, 2u);
  EXPECT_NE(again.message.find("already accepted into round 2"), std::string::npos) << again.message;
  EXPECT_EQ(e.SubmitUpdate(Meta(b, 1), Delta(0, 2, 0)).reason, RejectReason::kDuplicate);
  EXPECT_EQ(e.Stats().buffered_updates, 2u);
}

TEST(EngineStoreTest, ALostAcknowledgementIsAnsweredAcceptedAfterARestartWhateverItsAge) {
  TestTempDir dir;
  ManualClock clock;
  EngineConfig cfg{.updates_per_round = 1, .strategy = {.name = "afa_cd"}};
  cfg.max_staleness = 1;
  Registration a, b;
  {
    EngineWithStore h(dir.path(), cfg, &clock);
    a = *h.engine->Register("a", {}, "secret-a");
    b = *h.engine->Register("b", {}, "secret-b");
    (void)h.engine->CheckIn(a.client_id, a.token, 2);
    ASSERT_TRUE(h.engine->SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).accepted);  // version 2
    for (uint64_t v = 2; v < 5; ++v) {
      (void)h.engine->CheckIn(b.client_id, b.token, 2);
      ASSERT_TRUE(h.engine->SubmitUpdate(Meta(b, v), Delta(0, 1, 0)).accepted);
    }
  }  // killed before a's reply left: a retries against the restarted coordinator
  EngineWithStore h(dir.path(), cfg, &clock);
  ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
  ASSERT_EQ(h.engine->version(), 5u);
  const TensorList before = h.engine->GlobalModel();
  UpdateOutcome again = h.engine->SubmitUpdate(Meta(a, 1), Delta(1, 0, 0));
  EXPECT_TRUE(again.accepted) << again.message;
  EXPECT_EQ(again.round_version, 2u);
  ASSERT_TRUE(h.engine->Flush().ok());
  EXPECT_TRUE(SameBits(before, h.engine->GlobalModel()));
  EXPECT_EQ(h.store_->ClientHistory(a.client_id, 0)->size(), 1u);
}

TEST(EngineStoreTest, TheStrategyOfAStoreCannotChange) {
  TestTempDir dir;
  ManualClock clock;
  { EngineWithStore h(dir.path(), {.strategy = {.name = "fedau"}}, &clock); }
  EngineWithStore h(dir.path(), {.strategy = {.name = "afa_cd"}}, &clock);
  EXPECT_EQ(h.status_.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(h.status_.message().find("written with strategy 'fedau'"), std::string::npos)
      << h.status_.message();
}

TEST(EngineStoreTest, ATransientStoreFailureIsRetriedAndTheEngineKeepsServing) {
  TestTempDir dir;
  ManualClock clock;
  EngineConfig cfg{.updates_per_round = 2};
  cfg.store_retry_s = 30;
  EngineWithStore h(dir.path(), cfg, &clock);
  RoundEngine& e = *h.engine;
  Registration a = *e.Register("a", {}, "secret-a"), b = *e.Register("b", {}, "secret-b");
  (void)e.CheckIn(a.client_id, a.token, 2);
  (void)e.CheckIn(b.client_id, b.token, 2);
  ASSERT_TRUE(e.SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).accepted);
  const std::string blocker = dir.Sub("checkpoints/v0000000002.mrmt.tmp");
  std::filesystem::create_directories(blocker);  // the round's checkpoint cannot be written
  std::promise<UpdateOutcome> pb;
  e.SubmitUpdateAsync(Meta(b, 1), Delta(3, 0, 0), [&](const UpdateOutcome& o) { pb.set_value(o); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a few failed attempts
  EXPECT_TRUE(e.health().ok());
  EXPECT_TRUE(e.CheckIn(a.client_id, a.token, 2).ok()) << "the front keeps answering";
  std::filesystem::remove(blocker);  // the disk recovers
  UpdateOutcome ob = pb.get_future().get();
  EXPECT_TRUE(ob.accepted) << ob.message;
  EXPECT_EQ(e.version(), 2u);
  EXPECT_TRUE(e.health().ok()) << e.health().ToString();
}

TEST(EngineStoreTest, AStoreFailureStopsTheEngineAndLosesNothingCommitted) {
  TestTempDir dir;
  ManualClock clock;
  EngineConfig cfg{.updates_per_round = 2};
  cfg.store_retry_s = 0.2;  // fails for good: stop after a short retry
  Registration a, b;
  const std::string blocker = dir.Sub("checkpoints/v0000000002.mrmt.tmp");
  {
    EngineWithStore h(dir.path(), cfg, &clock);
    RoundEngine& e = *h.engine;
    a = *e.Register("a", {}, "secret-a");
    b = *e.Register("b", {}, "secret-b");
    (void)e.CheckIn(a.client_id, a.token, 2);
    (void)e.CheckIn(b.client_id, b.token, 2);
    ASSERT_TRUE(e.SubmitUpdate(Meta(a, 1), Delta(1, 0, 0)).accepted);
    std::filesystem::create_directories(blocker);  // the checkpoint cannot be written
    UpdateOutcome ob = e.SubmitUpdate(Meta(b, 1), Delta(3, 0, 0));
    EXPECT_FALSE(ob.accepted);
    EXPECT_EQ(ob.reason, RejectReason::kInternal);
    EXPECT_NE(ob.message.find("could not be recorded"), std::string::npos) << ob.message;
    EXPECT_FALSE(e.health().ok());
    EXPECT_NE(e.health().message().find(blocker), std::string::npos) << e.health().message();
    EXPECT_EQ(e.version(), 1u);
    (void)e.CheckIn(b.client_id, b.token, 2);
    EXPECT_EQ(e.SubmitUpdate(Meta(b, 1), Delta(3, 0, 0)).reason, RejectReason::kInternal);
  }
  std::filesystem::remove(blocker);
  EngineWithStore h(dir.path(), cfg, &clock);
  ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
  EXPECT_EQ(h.engine->Stats().buffered_updates, 1u);  // a's update survived
  UpdateOutcome ob = h.engine->SubmitUpdate(Meta(b, 1), Delta(3, 0, 0));
  EXPECT_TRUE(ob.accepted) << ob.message;
  EXPECT_EQ(h.engine->version(), 2u);
  EXPECT_FLOAT_EQ(h.engine->GlobalModel()[0].data[0], 3.0f);  // 1 + mean(1, 3)
}

TEST(EngineStoreTest, TheDeadlineSurvivesARestart) {
  TestTempDir dir;
  ManualClock clock;
  const EngineConfig cfg{.mode = RoundMode::kSync, .updates_per_round = 0,
                         .round_deadline_s = 10, .close_empty_rounds = true,
                         .strategy = {.name = "fedau"}};
  {
    EngineWithStore h(dir.path(), cfg, &clock);
    clock.Advance(10s);
    ASSERT_TRUE(h.engine->Flush().ok());
    EXPECT_EQ(h.engine->version(), 2u);  // round 2 closed at t=10
    clock.Advance(2s);
  }
  EngineWithStore h(dir.path(), cfg, &clock);  // restarted at t=12
  clock.Advance(7s);
  ASSERT_TRUE(h.engine->Flush().ok());
  EXPECT_EQ(h.engine->version(), 2u);
  clock.Advance(1s);  // t=20: 10 s after round 3 opened
  ASSERT_TRUE(h.engine->Flush().ok());
  EXPECT_EQ(h.engine->version(), 3u);
}

}  // namespace
}  // namespace murmur::server

namespace murmur::server {
namespace {

// Bytes of every file in `dir` (the database, its WAL, checkpoints).
std::string AllBytesUnder(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream f(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(EngineStoreTest, SessionTokensAreStoredOnlyAsDigestsAndStillWorkAfterARestart) {
  TestTempDir dir;
  ManualClock clock;
  Registration a;
  {
    EngineWithStore h(dir.path(), {.updates_per_round = 2}, &clock);
    ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
    a = *h.engine->Register("a", {}, "secret-a");
    ASSERT_TRUE(h.engine->Flush().ok());
    const std::string bytes = AllBytesUnder(dir.path());
    EXPECT_EQ(bytes.find(a.token), std::string::npos) << "the session token is on disk";
    EXPECT_NE(bytes.find(TokenDigest(a.token)), std::string::npos);
  }
  EngineWithStore h(dir.path(), {.updates_per_round = 2}, &clock);
  ASSERT_TRUE(h.status_.ok()) << h.status_.ToString();
  EXPECT_TRUE(h.engine->CheckIn(a.client_id, a.token, 2).ok());
  // The stored digest is not a credential.
  EXPECT_EQ(h.engine->CheckIn(a.client_id, TokenDigest(a.token), 2).status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace murmur::server
