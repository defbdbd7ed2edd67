#include "server/engine/round_engine.h"

#include "common/checksum.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

namespace murmur::server {
namespace {

using namespace std::chrono_literals;

// Holds the engine's worker inside a callback until opened. It opens itself
// and stops the engine when the test leaves its scope, after a failed ASSERT
// too, so a failing test can never leave the worker waiting forever (and no
// callback outlives the locals it uses: declare it after them).
class WorkerGate {
 public:
  explicit WorkerGate(std::unique_ptr<RoundEngine>* engine) : engine_(engine) {}
  ~WorkerGate() {
    Open();
    engine_->reset();
  }
  void Wait() { gate_.wait(); }
  void Open() {
    std::call_once(opened_, [this] { release_.set_value(); });
  }

 private:
  std::unique_ptr<RoundEngine>* engine_;
  std::promise<void> release_;
  std::shared_future<void> gate_ = release_.get_future().share();
  std::once_flag opened_;
};

class RoundEngineTest : public ::testing::Test {
 protected:
  RoundEngineTest() { Reset(config_); }

  void Reset(EngineConfig cfg) {
    engine_.reset();
    config_ = cfg;
    auto e = RoundEngine::Create(cfg, TensorList{{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}},
                                 &clock_, &rng_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  Registration Reg(const std::string& name) {
    return *engine_->Register(name, {}, "secret-" + name);
  }

  std::string Delta(float w0, float w1, float b) {
    return *EncodeTensors({{"w", {2}, {w0, w1}}, {"b", {1}, {b}}});
  }

  UpdateMeta Meta(const Registration& r, uint64_t base, uint32_t k = 2) {
    UpdateMeta m;
    m.client_id = r.client_id;
    m.token = r.token;
    m.base_version = base;
    m.local_steps = k;
    m.num_samples = 10;
    m.mean_loss = 1.0;
    return m;
  }

  UpdateOutcome Push(const Registration& r, uint64_t base, const std::string& payload, uint32_t k = 2) {
    return engine_->SubmitUpdate(Meta(r, base, k), payload);
  }

  CheckInDecision Check(const Registration& r, uint32_t k = 2) {
    return *engine_->CheckIn(r.client_id, r.token, k);
  }

  ManualClock clock_;
  Rng rng_{1};
  EngineConfig config_{.updates_per_round = 2};
  std::unique_ptr<RoundEngine> engine_;
};

TEST_F(RoundEngineTest, RoundClosesWithMUpdatesAndAveragesDeltas) {
  Registration a = Reg("a"), b = Reg("b");
  EXPECT_NE(a.client_id, b.client_id);
  EXPECT_EQ(Check(a).kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(Check(b).kind, CheckInDecision::Kind::kTrain);
  RoundSummary seen;
  engine_->SetRoundObserver([&](const RoundSummary& s) { seen = s; });
  UpdateOutcome o = Push(a, 1, Delta(1, 0, 0));
  ASSERT_TRUE(o.accepted) << o.message;
  EXPECT_EQ(engine_->version(), 1u);
  o = Push(b, 1, Delta(3, 2, -1));
  ASSERT_TRUE(o.accepted) << o.message;
  EXPECT_EQ(o.round_version, 2u);
  EXPECT_EQ(engine_->version(), 2u);
  TensorList g = engine_->GlobalModel();
  // x + mean(delta) = (1,2,0.5) + (2,1,-0.5)
  EXPECT_FLOAT_EQ(g[0].data[0], 3.0f);
  EXPECT_FLOAT_EQ(g[0].data[1], 3.0f);
  EXPECT_FLOAT_EQ(g[1].data[0], 0.0f);
  EXPECT_EQ(seen.version, 2u);
  EXPECT_EQ(seen.num_updates, 2u);
  EXPECT_EQ(seen.trigger, RoundTrigger::kBufferFull);
  ASSERT_EQ(seen.weights.size(), 2u);
  EXPECT_DOUBLE_EQ(seen.weights[0].second, 0.5);
  EXPECT_NEAR(seen.update_norm, std::sqrt(4.0 + 1.0 + 0.25), 1e-6);
  // The published snapshot decodes to the new model.
  SnapshotPtr snap = *engine_->Snapshot(0);
  EXPECT_EQ(snap->version, 2u);
  EXPECT_EQ((*DecodeTensors(snap->bytes))[0].data, g[0].data);
  EXPECT_EQ(engine_->Stats().accepted_updates, 2u);
}

TEST_F(RoundEngineTest, ServerLearningRateScalesTheStep) {
  Reset({.updates_per_round = 1, .strategy = {.server_lr = 0.5}});
  Registration a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(2, 2, 2)).accepted);
  TensorList g = engine_->GlobalModel();
  EXPECT_FLOAT_EQ(g[0].data[0], 2.0f);
  EXPECT_FLOAT_EQ(g[1].data[0], 1.5f);
}

TEST_F(RoundEngineTest, UsesTheConfiguredStrategyOverAllRegisteredClients) {
  // fedavg_all divides by N = every registered client, not the participants.
  Reset({.updates_per_round = 2, .strategy = {.name = "fedavg_all"}});
  Registration a = Reg("a"), b = Reg("b");
  Reg("c");
  Reg("d");
  RoundSummary seen;
  engine_->SetRoundObserver([&](const RoundSummary& s) { seen = s; });
  Check(a);
  Check(b);
  ASSERT_TRUE(Push(a, 1, Delta(4, 0, 0)).accepted);
  ASSERT_TRUE(Push(b, 1, Delta(0, 4, 0)).accepted);
  TensorList g = engine_->GlobalModel();
  EXPECT_FLOAT_EQ(g[0].data[0], 2.0f);  // 1 + 4/4
  EXPECT_FLOAT_EQ(g[0].data[1], 3.0f);  // 2 + 4/4
  ASSERT_EQ(seen.weights.size(), 2u);
  EXPECT_DOUBLE_EQ(seen.weights[0].second, 0.25);
  EXPECT_EQ(seen.weights[1].first, b.client_id);
}

TEST_F(RoundEngineTest, MalformedUpdatesNeverTouchTheModel) {
  Registration a = Reg("a");
  const TensorList before = engine_->GlobalModel();
  struct Case {
    std::string payload;
    RejectReason reason;
  };
  std::string truncated = Delta(1, 1, 1);
  truncated.resize(truncated.size() - 5);
  std::string wrong_shape = *EncodeTensors({{"w", {3}, {1, 1, 1}}, {"b", {1}, {1}}});
  std::string nan = *EncodeTensors({{"w", {2}, {std::numeric_limits<float>::quiet_NaN(), 1}}, {"b", {1}, {1}}},
                                   {.allow_nonfinite = true});
  for (const Case& c : {Case{truncated, RejectReason::kMalformed},
                        Case{wrong_shape, RejectReason::kShapeMismatch},
                        Case{nan, RejectReason::kNonFinite},
                        Case{Delta(1e7f, 0, 0), RejectReason::kNormTooLarge},
                        Case{"garbage", RejectReason::kMalformed}}) {
    Check(a);
    UpdateOutcome o = Push(a, 1, c.payload);
    EXPECT_FALSE(o.accepted);
    EXPECT_EQ(o.reason, c.reason) << o.message;
    EXPECT_FALSE(o.message.empty());
  }
  TensorList after = engine_->GlobalModel();
  EXPECT_EQ(after[0].data, before[0].data);
  EXPECT_EQ(after[1].data, before[1].data);
}

TEST_F(RoundEngineTest, ADeclaredChecksumIsVerifiedOffTheCallersThread) {
  Registration a = Reg("a");
  const TensorList before = engine_->GlobalModel();
  Check(a);
  UpdateMeta m = Meta(a, 1);
  const std::string payload = Delta(1, 1, 1);
  m.payload_checksum = Xxh3(payload) ^ 1;  // what a corrupted stream would carry
  std::promise<std::pair<UpdateOutcome, std::thread::id>> answered;
  engine_->SubmitUpdateAsync(m, payload, [&](const UpdateOutcome& o) {
    answered.set_value({o, std::this_thread::get_id()});
  });
  auto [o, thread] = answered.get_future().get();
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.reason, RejectReason::kMalformed);
  EXPECT_NE(o.message.find("checksum mismatch"), std::string::npos) << o.message;
  EXPECT_NE(thread, std::this_thread::get_id()) << "validation ran on the caller's thread";
  EXPECT_EQ(engine_->GlobalModel()[0].data, before[0].data);
  // The right checksum is accepted.
  Check(a);
  m.payload_checksum = Xxh3(payload);
  EXPECT_TRUE(engine_->SubmitUpdate(m, payload).accepted);
}

TEST_F(RoundEngineTest, StaleUpdatesAreRejectedWithTheirAge) {
  Reset({.updates_per_round = 1, .max_staleness = 1});
  Registration a = Reg("a"), b = Reg("b");
  Check(b);  // b pulls version 1 and is slow
  for (int i = 0; i < 2; ++i) {
    Check(a);
    ASSERT_TRUE(Push(a, engine_->version(), Delta(0.1f, 0, 0)).accepted);
  }
  EXPECT_EQ(engine_->version(), 3u);
  UpdateOutcome o = Push(b, 1, Delta(1, 1, 1));
  EXPECT_FALSE(o.accepted);
  EXPECT_EQ(o.reason, RejectReason::kTooStale);
  EXPECT_EQ(o.staleness, 2u);
  EXPECT_NE(o.message.find("limit is 1"), std::string::npos) << o.message;
}

// An update that was fresh when it arrived but became too old while queued
// (rounds closed ahead of it) is rejected by the worker, with its age then.
TEST_F(RoundEngineTest, StalenessIsFinalWhenTheUpdateIsRecorded) {
  Reset({.updates_per_round = 2, .max_staleness = 0});
  Registration a = Reg("a"), b = Reg("b"), c = Reg("c");
  Check(a);
  Check(b);
  Check(c);
  std::promise<UpdateOutcome> first, pb, pc;
  WorkerGate gate(&engine_);  // after the promises: it stops the engine before they go
  // a's callback runs on the worker and holds it until released.
  engine_->SubmitUpdateAsync(Meta(a, 1), Delta(1, 0, 0), [&](const UpdateOutcome& o) {
    first.set_value(o);
    gate.Wait();
  });
  ASSERT_TRUE(first.get_future().get().accepted);
  engine_->SubmitUpdateAsync(Meta(b, 1), Delta(1, 0, 0), [&](const UpdateOutcome& o) { pb.set_value(o); });
  engine_->SubmitUpdateAsync(Meta(c, 1), Delta(1, 0, 0), [&](const UpdateOutcome& o) { pc.set_value(o); });
  gate.Open();
  UpdateOutcome ob = pb.get_future().get(), oc = pc.get_future().get();
  EXPECT_TRUE(ob.accepted) << ob.message;  // closes round 2
  EXPECT_FALSE(oc.accepted);
  EXPECT_EQ(oc.reason, RejectReason::kTooStale);
  EXPECT_EQ(oc.staleness, 1u);
  EXPECT_NE(oc.message.find("when recorded"), std::string::npos) << oc.message;
}

TEST_F(RoundEngineTest, AuthAndProtocolErrors) {
  Registration a = Reg("a");
  EXPECT_EQ(engine_->CheckIn(a.client_id, "wrong", 1).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(engine_->CheckIn(999, a.token, 1).status().code(), StatusCode::kNotFound);
  Registration forged = a;
  forged.token = "x";
  EXPECT_EQ(Push(forged, 1, Delta(0, 0, 0)).reason, RejectReason::kBadToken);
  // Pushing without a check-in.
  EXPECT_EQ(Push(a, 1, Delta(0, 0, 0)).reason, RejectReason::kDuplicate);
  Check(a);
  EXPECT_EQ(Push(a, 1, Delta(0, 0, 0), /*k=*/0).reason, RejectReason::kLocalStepsOutOfRange);
  Check(a);
  EXPECT_EQ(Push(a, 7, Delta(0, 0, 0)).reason, RejectReason::kMalformed);  // future base
  EXPECT_FALSE(engine_->Register("", {}).ok());
}

TEST_F(RoundEngineTest, CheckInClampsKAndCapsTrainers) {
  Reset({.updates_per_round = 4, .max_concurrent_trainers = 1,
         .recipe = {.min_local_steps = 2, .max_local_steps = 10}});
  Registration a = Reg("a"), b = Reg("b");
  CheckInDecision d = Check(a, 50);
  EXPECT_EQ(d.kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(d.local_steps, 10u);
  d = Check(b, 1);
  EXPECT_EQ(d.kind, CheckInDecision::Kind::kWait);
  EXPECT_NE(d.reason.find("cap"), std::string::npos);
  // a leaves: the slot frees up.
  ASSERT_TRUE(engine_->Leave(a.client_id, a.token).ok());
  d = Check(b, 1);
  EXPECT_EQ(d.kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(d.local_steps, 2u);
  EXPECT_FALSE(engine_->CheckIn(a.client_id, a.token, 1).ok());  // left
}

TEST_F(RoundEngineTest, FinishesAfterMaxRounds) {
  Reset({.updates_per_round = 1, .max_rounds = 1});
  Registration a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(0, 0, 0)).accepted);
  EXPECT_TRUE(engine_->finished());
  EXPECT_EQ(Check(a).kind, CheckInDecision::Kind::kFinished);
  EXPECT_EQ(Push(a, 2, Delta(0, 0, 0)).reason, RejectReason::kFinished);
}

TEST_F(RoundEngineTest, ReRegisteringKeepsTheIdAndRotatesTheToken) {
  Registration a = Reg("a");
  Registration again = Reg("a");
  EXPECT_EQ(a.client_id, again.client_id);
  EXPECT_NE(a.token, again.token);
  EXPECT_FALSE(engine_->CheckIn(a.client_id, a.token, 1).ok());
}

TEST_F(RoundEngineTest, OldSnapshotIsServedWhileCurrent) {
  Reset({.updates_per_round = 1});
  Registration a = Reg("a");
  for (int i = 0; i < 2; ++i) {
    Check(a);
    ASSERT_TRUE(Push(a, engine_->version(), Delta(1, 0, 0)).accepted);
  }
  EXPECT_TRUE(engine_->Snapshot(3).ok());
  EXPECT_TRUE(engine_->Snapshot(2).ok());
  EXPECT_EQ(engine_->Snapshot(1).status().code(), StatusCode::kNotFound);
}

TEST_F(RoundEngineTest, DeadlineClosesTheRoundOnTheInjectedClock) {
  Reset({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 10,
         .strategy = {.name = "fedau"}, .max_staleness = 0});
  Registration a = Reg("a"), b = Reg("b");
  Reg("c");  // never reports
  RoundSummary seen;
  engine_->SetRoundObserver([&](const RoundSummary& s) { seen = s; });
  Check(a);
  Check(b);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  ASSERT_TRUE(Push(b, 1, Delta(0, 1, 0)).accepted);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 1u);
  clock_.Advance(9s);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 1u);
  clock_.Advance(1s);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 2u);
  EXPECT_EQ(seen.trigger, RoundTrigger::kDeadline);
  EXPECT_EQ(seen.num_updates, 2u);
  EXPECT_DOUBLE_EQ(seen.closed_at_s, 10.0);
  // FedAU's first round: omega = 1, N = 3: x + (1/3) * sum(delta).
  TensorList g = engine_->GlobalModel();
  EXPECT_FLOAT_EQ(g[0].data[0], 1.0f + 1.0f / 3);
  // An empty round does not close by default: the deadline restarts.
  clock_.Advance(30s);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 2u);
}

TEST_F(RoundEngineTest, EmptyRoundsCloseAtTheDeadlineWhenAsked) {
  Reset({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 5,
         .close_empty_rounds = true, .strategy = {.name = "fedau"}});
  Reg("a");
  clock_.Advance(5s);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 2u);
  clock_.Advance(5s);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 3u);
}

TEST_F(RoundEngineTest, SyncRoundClosesWhenEveryClientReported) {
  Reset({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 100,
         .strategy = {.name = "fedau"}, .max_staleness = 0});
  Registration a = Reg("a"), b = Reg("b");
  RoundSummary seen;
  engine_->SetRoundObserver([&](const RoundSummary& s) { seen = s; });
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  // One update per client per round: a is told to wait for the next version.
  CheckInDecision d = Check(a);
  EXPECT_EQ(d.kind, CheckInDecision::Kind::kWait);
  EXPECT_NE(d.reason.find("wait for version 2"), std::string::npos) << d.reason;
  Check(b);
  ASSERT_TRUE(Push(b, 1, Delta(1, 0, 0)).accepted);
  EXPECT_EQ(engine_->version(), 2u);
  EXPECT_EQ(seen.trigger, RoundTrigger::kAllReported);
  EXPECT_EQ(Check(a).kind, CheckInDecision::Kind::kTrain);
}

TEST_F(RoundEngineTest, OneUpdatePerClientPerRoundWhenTheStrategyNeedsIt) {
  Reset({.updates_per_round = 3, .strategy = {.name = "fedau"}});
  Registration a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  Check(a);
  UpdateOutcome o = Push(a, 1, Delta(2, 0, 0));
  EXPECT_EQ(o.reason, RejectReason::kDuplicate);
  EXPECT_NE(o.message.find("already has an update in round 2"), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("fedau"), std::string::npos) << o.message;
  // AFA-CD takes several updates of one client in a round.
  Reset({.updates_per_round = 3, .strategy = {.name = "afa_cd"}});
  a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  Check(a);
  EXPECT_TRUE(Push(a, 1, Delta(2, 0, 0)).accepted);
}

TEST_F(RoundEngineTest, AnIdenticalRetransmissionIsCountedOnce) {
  Reset({.updates_per_round = 5, .strategy = {.name = "afa_cd"}});
  Registration a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  Check(a);
  // Answered as the first time (its acknowledgement may have been lost), not applied again.
  UpdateOutcome o = Push(a, 1, Delta(1, 0, 0));
  EXPECT_TRUE(o.accepted) << o.message;
  EXPECT_EQ(o.round_version, 2u);
  EXPECT_NE(o.message.find("already accepted into round 2"), std::string::npos) << o.message;
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->Stats().buffered_updates, 1u);
  EXPECT_EQ(engine_->Stats().accepted_updates, 1u);
}

TEST_F(RoundEngineTest, AClientThatLeftStillCountsInItsRound) {
  Reset({.updates_per_round = 2, .strategy = {.name = "fedau"}});
  Registration a = Reg("a"), b = Reg("b");
  Check(a);
  Check(b);
  ASSERT_TRUE(Push(a, 1, Delta(1, 0, 0)).accepted);
  ASSERT_TRUE(engine_->Leave(a.client_id, a.token).ok());
  ASSERT_TRUE(Push(b, 1, Delta(1, 0, 0)).accepted);
  EXPECT_EQ(engine_->version(), 2u);
  EXPECT_TRUE(engine_->health().ok()) << engine_->health().ToString();
}

TEST_F(RoundEngineTest, AFullQueueAnswersBusyAndKeepsTheCheckInOpen) {
  Reset({.updates_per_round = 1, .max_queued_updates = 1});
  Registration a = Reg("a"), b = Reg("b"), c = Reg("c");
  Check(a);
  Check(b);
  Check(c);
  std::promise<void> holding;
  std::promise<UpdateOutcome> pa, pb;  // acknowledged after the observer returns
  WorkerGate gate(&engine_);
  engine_->SetRoundObserver([&](const RoundSummary& s) {
    if (s.version == 2) {
      holding.set_value();
      gate.Wait();  // the worker is stuck here: nothing drains the queue
    }
  });
  engine_->SubmitUpdateAsync(Meta(a, 1), Delta(1, 0, 0), [&](const UpdateOutcome& o) { pa.set_value(o); });
  holding.get_future().wait();
  engine_->SubmitUpdateAsync(Meta(b, 1), Delta(1, 0, 0), [&](const UpdateOutcome& o) { pb.set_value(o); });
  UpdateOutcome busy = Push(c, 1, Delta(1, 0, 0));
  EXPECT_EQ(busy.reason, RejectReason::kBusy);
  EXPECT_NE(busy.message.find("retry"), std::string::npos) << busy.message;
  gate.Open();
  EXPECT_TRUE(pa.get_future().get().accepted);
  EXPECT_TRUE(pb.get_future().get().accepted);
  ASSERT_TRUE(engine_->Flush().ok());
  // c did not have to check in again.
  EXPECT_TRUE(Push(c, 2, Delta(1, 0, 0)).accepted);
}

TEST_F(RoundEngineTest, ManyThreadsEachUpdateCountedOnce) {
  Reset({.updates_per_round = 4, .strategy = {.name = "afa_cd"}, .max_staleness = 1000});
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> accepted{0};
  std::atomic<uint32_t> rounds{0}, updates_in_rounds{0};
  engine_->SetRoundObserver([&](const RoundSummary& s) {
    rounds.fetch_add(1);
    updates_in_rounds.fetch_add(s.num_updates);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Registration r =
          *engine_->Register("t" + std::to_string(t), {}, "secret-t" + std::to_string(t));
      for (int i = 0; i < kEach; ++i) {
        CheckInDecision d = *engine_->CheckIn(r.client_id, r.token, 2);
        UpdateOutcome o = engine_->SubmitUpdate(Meta(r, d.model_version),
                                                Delta(0.001f * float(i + 1), float(t) * 1e-3f, 0));
        if (o.accepted) accepted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(accepted.load(), kThreads * kEach);
  EXPECT_EQ(rounds.load(), static_cast<uint32_t>(kThreads * kEach / 4));
  EXPECT_EQ(updates_in_rounds.load(), static_cast<uint32_t>(kThreads * kEach));
  EXPECT_EQ(engine_->version(), 1u + kThreads * kEach / 4);
}

TEST(RoundEngineConfigTest, BadConfigsAreRefusedWithTheField) {
  ManualClock clock;
  Rng rng(1);
  TensorList model = {{"w", {1}, {0.0f}}};
  auto no_trigger = RoundEngine::Create({.updates_per_round = 0}, model, &clock, &rng);
  ASSERT_FALSE(no_trigger.ok());
  EXPECT_NE(no_trigger.status().message().find("trigger"), std::string::npos);
  auto bad_strategy =
      RoundEngine::Create({.strategy = {.name = "fedsgd"}}, model, &clock, &rng);
  ASSERT_FALSE(bad_strategy.ok());
  EXPECT_NE(bad_strategy.status().message().find("unknown strategy"), std::string::npos);
}

}  // namespace
}  // namespace murmur::server
