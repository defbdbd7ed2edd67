#include "server/round_engine.h"

#include <gtest/gtest.h>

#include <limits>

namespace murmur::server {
namespace {

const ModelSpec kSpec = {{"w", {2}}, {"b", {1}}};

class RoundEngineTest : public ::testing::Test {
 protected:
  RoundEngineTest() { Reset(config_); }

  void Reset(EngineConfig cfg) {
    config_ = cfg;
    engine_ = std::make_unique<RoundEngine>(cfg, TensorList{{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}},
                                            &clock_, &rng_);
  }

  Registration Reg(const std::string& name) { return *engine_->Register(name, {}); }

  std::string Delta(float w0, float w1, float b) {
    return *EncodeTensors({{"w", {2}, {w0, w1}}, {"b", {1}, {b}}});
  }

  UpdateOutcome Push(const Registration& r, uint64_t base, const std::string& payload, uint32_t k = 2) {
    UpdateMeta m;
    m.client_id = r.client_id;
    m.token = r.token;
    m.base_version = base;
    m.local_steps = k;
    m.num_samples = 10;
    m.mean_loss = 1.0;
    return engine_->SubmitUpdate(m, payload);
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
  EXPECT_NEAR(seen.update_norm, std::sqrt(4.0 + 1.0 + 0.25), 1e-6);
  // The published snapshot decodes to the new model.
  SnapshotPtr snap = *engine_->Snapshot(0);
  EXPECT_EQ(snap->version, 2u);
  EXPECT_EQ((*DecodeTensors(snap->bytes))[0].data, g[0].data);
}

TEST_F(RoundEngineTest, ServerLearningRateScalesTheStep) {
  Reset({.updates_per_round = 1, .server_lr = 0.5});
  Registration a = Reg("a");
  Check(a);
  ASSERT_TRUE(Push(a, 1, Delta(2, 2, 2)).accepted);
  TensorList g = engine_->GlobalModel();
  EXPECT_FLOAT_EQ(g[0].data[0], 2.0f);
  EXPECT_FLOAT_EQ(g[1].data[0], 1.5f);
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

}  // namespace
}  // namespace murmur::server
