// RoundCore driven directly (no threads, no clock): the round protocol, the
// deadline as an input, and the engine defects fixed with the core.
#include "server/core/round_core.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/checksum.h"
#include "common/token_digest.h"
#include "server/engine/core_driver.h"
#include "server/store/memory_store.h"

namespace murmur::server::core {
namespace {

TensorList Model() { return {{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}}; }

std::string Delta(float w0, float w1, float b) {
  return *EncodeTensors({{"w", {2}, {w0, w1}}, {"b", {1}, {b}}});
}

class RoundCoreTest : public ::testing::Test {
 protected:
  void Make(EngineConfig cfg, bool history = true) {
    auto c = RoundCore::Create(cfg, Model(), now_, history);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    core_ = std::move(*c);
    driver_ = std::make_unique<CoreDriver>(core_.get(), nullptr);
  }

  struct Client {
    uint64_t id = 0;
    std::string token;
  };
  Client Reg(const std::string& name, ClientCapabilities caps = {}) {
    Client c;
    c.token = "token-" + name;
    auto id = core_->Register(name, caps, TokenDigest(c.token), now_, "secret-" + name);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    c.id = id.ok() ? *id : 0;
    return c;
  }
  UpdateMeta Meta(const Client& c, uint64_t base, uint32_t k = 2) {
    return {.client_id = c.id, .token = c.token, .base_version = base, .local_steps = k,
            .num_samples = 10, .mean_loss = 1.0};
  }
  // Check in, then offer an update; returns an immediate rejection, if any.
  std::optional<UpdateOutcome> Send(const Client& c, const std::string& payload, uint32_t k = 2) {
    auto d = core_->CheckIn(c.id, c.token, k, now_);
    EXPECT_TRUE(d.ok());
    return driver_->Offer(Meta(c, d->model_version, k), payload, now_, next_ticket_++);
  }

  double now_ = 100;
  Ticket next_ticket_ = 1;
  std::unique_ptr<RoundCore> core_;
  std::unique_ptr<CoreDriver> driver_;
};

TEST_F(RoundCoreTest, VersionChangesOnlyWhenTheRoundWriteCommits) {
  Make({.updates_per_round = 2, .strategy = {.name = "fedavg_participants"}});
  Client a = Reg("a"), b = Reg("b");
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  EXPECT_FALSE(Send(b, Delta(0, 1, 0)));
  std::optional<RoundJob> job = core_->TakeRoundJob();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->trigger, RoundTrigger::kBufferFull);
  EXPECT_FALSE(core_->TakeRoundJob()) << "one job at a time";
  core_->FinishRound(*job, job->Run(), now_);
  PendingWrite w = core_->TakePendingWrite();
  ASSERT_TRUE(w.has_round);
  EXPECT_EQ(w.acks.size(), 2u);
  // Not yet committed: nobody sees version 2.
  EXPECT_EQ(core_->version(), 1u);
  EXPECT_EQ(core_->CheckIn(a.id, a.token, 2, now_)->model_version, 1u);
  Committed c = core_->OnWriteCommitted(std::move(w));
  ASSERT_TRUE(c.round);
  EXPECT_EQ(core_->version(), 2u);
  const TensorList& m = *core_->model();
  EXPECT_FLOAT_EQ(m[0].data[0], 1.5f);
  EXPECT_FLOAT_EQ(m[0].data[1], 2.5f);
  EXPECT_FLOAT_EQ(m[1].data[0], 0.5f);
  ASSERT_EQ(c.acks.size(), 2u);
  EXPECT_TRUE(c.acks[0].outcome.accepted);
  EXPECT_EQ(c.acks[0].outcome.round_version, 2u);
}

TEST_F(RoundCoreTest, AFailedWriteStopsTheCoreAndRejectsWhatItCarried) {
  Make({.updates_per_round = 1});
  Client a = Reg("a");
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  std::optional<RoundJob> job = core_->TakeRoundJob();
  ASSERT_TRUE(job);
  core_->FinishRound(*job, job->Run(), now_);
  std::vector<Ack> acks =
      core_->OnWriteFailed(core_->TakePendingWrite(), InternalError("disk full"));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].outcome.accepted);
  EXPECT_EQ(acks[0].outcome.reason, RejectReason::kInternal);
  EXPECT_EQ(core_->version(), 1u);
  EXPECT_FALSE(core_->health().ok());
  EXPECT_NE(core_->health().message().find("disk full"), std::string::npos);
  EXPECT_EQ(core_->CheckIn(a.id, a.token, 2, now_).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(core_->NextDeadline());
}

TEST_F(RoundCoreTest, DeadlineIsAnInputNotAPoll) {
  Make({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 10,
        .strategy = {.name = "fedau"}});
  Client a = Reg("a");
  Reg("b");
  ASSERT_EQ(core_->NextDeadline(), std::optional<double>(110));
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  driver_->Settle(now_);
  driver_->Tick(109.9);
  EXPECT_FALSE(core_->TakeRoundJob());
  driver_->Tick(110);
  Settled s = driver_->Settle(110);
  ASSERT_EQ(s.rounds.size(), 1u);
  EXPECT_EQ(s.rounds[0].trigger, RoundTrigger::kDeadline);
  EXPECT_EQ(core_->NextDeadline(), std::optional<double>(120));
}

TEST_F(RoundCoreTest, EmptyDeadlineRoundsCloseOnlyWhenConfigured) {
  Make({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 10,
        .strategy = {.name = "fedau"}});
  Reg("a");
  driver_->Tick(111);
  EXPECT_TRUE(driver_->Settle(111).rounds.empty());
  EXPECT_EQ(core_->NextDeadline(), std::optional<double>(121));  // restarted
  Make({.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 10,
        .close_empty_rounds = true, .strategy = {.name = "fedau"}});
  Reg("a");
  driver_->Tick(111);
  Settled s = driver_->Settle(111);
  ASSERT_EQ(s.rounds.size(), 1u);
  EXPECT_EQ(s.rounds[0].num_updates, 0u);
  EXPECT_EQ(core_->strategy_state().fedau.at(1).absent_run, 1u);  // FedAU counted the absence
}

TEST_F(RoundCoreTest, SyncModeTakesNoStaleUpdatesByDefault) {
  EngineConfig sync{.mode = RoundMode::kSync, .updates_per_round = 1, .round_deadline_s = 10};
  EXPECT_EQ(MaxStaleness(sync), 0u);
  EXPECT_EQ(MaxStaleness(EngineConfig{}), 4u);
  sync.max_staleness = 3;
  EXPECT_EQ(MaxStaleness(sync), 3u);
  Make({.mode = RoundMode::kSync, .updates_per_round = 1, .round_deadline_s = 10});
  Client a = Reg("a"), b = Reg("b");
  ASSERT_TRUE(core_->CheckIn(b.id, b.token, 2, now_).ok());  // b starts from version 1
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  ASSERT_EQ(driver_->Settle(now_).rounds.size(), 1u);
  std::optional<UpdateOutcome> late = driver_->Offer(Meta(b, 1), Delta(1, 0, 0), now_, 99);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->reason, RejectReason::kTooStale) << late->message;
}

TEST_F(RoundCoreTest, ClientCappedBelowTheMinimumKIsToldWhyInsteadOfTraining) {
  EngineConfig cfg{.updates_per_round = 1};
  cfg.recipe.min_local_steps = 5;
  cfg.recipe.max_local_steps = 10;
  Make(cfg);
  Client a = Reg("a", {.max_local_steps = 3});
  auto d = core_->CheckIn(a.id, a.token, 3, now_);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, CheckInDecision::Kind::kWait);
  EXPECT_NE(d->reason.find("at most 3 local steps"), std::string::npos) << d->reason;
  EXPECT_EQ(core_->Counters().active_trainers, 0u);
  Client b = Reg("b", {.max_local_steps = 7});
  d = core_->CheckIn(b.id, b.token, 20, now_);
  EXPECT_EQ(d->kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(d->local_steps, 7u);
}

TEST_F(RoundCoreTest, KnownPIsConfiguredByClientNameAndRequired) {
  EngineConfig cfg{.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 10,
                   .strategy = {.name = "fedavg_known_p"}};
  EXPECT_FALSE(ValidateEngineConfig(cfg).ok()) << "no p_n anywhere must be refused at start";
  EXPECT_NE(ValidateEngineConfig(cfg).message().find("known-p"), std::string::npos);
  cfg.known_p_by_name = {{"a", 0.5}, {"b", 0.25}};
  Make(cfg);
  auto stranger = core_->Register("c", {}, TokenDigest("t"), now_, "secret-c");
  EXPECT_EQ(stranger.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stranger.status().message().find("'c'"), std::string::npos);
  Client a = Reg("a"), b = Reg("b");
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  EXPECT_FALSE(Send(b, Delta(0, 1, 0)));
  driver_->Tick(110);
  Settled s = driver_->Settle(110);
  ASSERT_EQ(s.rounds.size(), 1u);
  // weights 1 / (N p): N = 2.
  EXPECT_DOUBLE_EQ(s.rounds[0].weights[0].second, 1.0);
  EXPECT_DOUBLE_EQ(s.rounds[0].weights[1].second, 2.0);
  EngineConfig bad = cfg;
  bad.known_p_by_name["a"] = 1.5;
  EXPECT_FALSE(ValidateEngineConfig(bad).ok());
}

TEST_F(RoundCoreTest, RejectionsAreRecordedAndBusyKeepsTheCheckIn) {
  Make({.updates_per_round = 4});
  Client a = Reg("a");
  core_->TakePendingWrite();  // the registration record
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  std::optional<UpdateOutcome> o = core_->Admit(Meta(a, 1), 7, std::string("queue full"), now_);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kBusy);
  EXPECT_EQ(core_->Counters().active_trainers, 1u) << "busy leaves the check-in open";
  o = core_->Admit(Meta(a, 0), 7, std::nullopt, now_);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kMalformed) << "versions start at 1";
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  EXPECT_FALSE(core_->Admit(Meta(a, 1), 7, std::nullopt, now_));
  PendingWrite w = core_->TakePendingWrite();
  ASSERT_EQ(w.batch.participations.size(), 2u);
  EXPECT_EQ(w.batch.participations[0].reject_reason, static_cast<int>(RejectReason::kBusy));
  EXPECT_EQ(w.batch.participations[1].reject_reason, static_cast<int>(RejectReason::kMalformed));
  EXPECT_LT(w.batch.participations[0].id, w.batch.participations[1].id);
}

TEST_F(RoundCoreTest, UnauthenticatedAttemptsAreCountedNotWrittenToAnyHistory) {
  Make({.updates_per_round = 4});
  Client a = Reg("a");
  core_->TakePendingWrite();
  UpdateMeta forged = Meta(a, 1);
  forged.token = "wrong";
  std::optional<UpdateOutcome> o = core_->Admit(forged, 1, std::nullopt, now_);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kBadToken);
  UpdateMeta stranger = Meta(a, 1);
  stranger.client_id = 999;
  o = core_->Admit(stranger, 1, std::nullopt, now_);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kUnknownClient);
  EXPECT_FALSE(core_->HasPendingWrite()) << "nothing to record";
  EXPECT_EQ(core_->Counters().unauthenticated_attempts, 2u);
  EXPECT_EQ(core_->Counters().rejected_updates, 0u);
}

// Identity: a name is bound to the credential of its first registration.
TEST_F(RoundCoreTest, ATakeoverByNameIsRefusedAndTheRealSessionStaysValid) {
  Make({.updates_per_round = 4});
  Client a = Reg("a");  // credential "secret-a"
  const PendingWrite first = core_->TakePendingWrite();
  ASSERT_EQ(first.batch.clients.size(), 1u);
  EXPECT_EQ(first.batch.clients[0].credential_sha256, TokenDigest("secret-a"));
  for (const std::string& wrong : {std::string("secret-b"), std::string()}) {
    auto thief = core_->Register("a", {.device = "evil"}, TokenDigest("thief"), now_, wrong);
    EXPECT_EQ(thief.status().code(), StatusCode::kPermissionDenied) << thief.status().ToString();
    EXPECT_NE(thief.status().message().find("client name 'a' is bound to another credential"),
              std::string::npos)
        << thief.status().ToString();
  }
  EXPECT_FALSE(core_->HasPendingWrite()) << "a refused takeover changes nothing";
  EXPECT_TRUE(core_->Authenticate(a.id, a.token).ok());
  EXPECT_FALSE(core_->Authenticate(a.id, "thief").ok());
  EXPECT_FALSE(Send(a, Delta(1, 0, 0))) << "the real client's update is admitted";
  // The same credential registers again: same id, a new session.
  auto again = core_->Register("a", {}, TokenDigest("token-a2"), now_, "secret-a");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, a.id);
  EXPECT_TRUE(core_->Authenticate(a.id, "token-a2").ok());
  EXPECT_FALSE(core_->Authenticate(a.id, a.token).ok());
}

TEST_F(RoundCoreTest, AnAnonymousRegistrationIsRefusedWhenACredentialIsRequired) {
  Make({.updates_per_round = 4});
  ASSERT_TRUE(core_->config().require_credential) << "the default";
  auto anon = core_->Register("a", {}, TokenDigest("t"), now_, "");
  EXPECT_EQ(anon.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(anon.status().message().find("without a credential"), std::string::npos)
      << anon.status().ToString();
  EXPECT_FALSE(core_->HasPendingWrite());
  EXPECT_EQ(core_->Counters().registered_clients, 0u);
  // Allowed when configured so (--allow-anonymous-clients): the name stays
  // unbound, so anyone may take it, until a registration brings a credential.
  Make({.updates_per_round = 4, .require_credential = false});
  auto first = core_->Register("a", {}, TokenDigest("t1"), now_, "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = core_->Register("a", {}, TokenDigest("t2"), now_, "");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, *first);
  ASSERT_TRUE(core_->Register("a", {}, TokenDigest("t3"), now_, "secret-a").ok());
  EXPECT_EQ(core_->Register("a", {}, TokenDigest("t4"), now_, "").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(core_->Authenticate(*first, "t3").ok());
}

// A client stored before identity binding (no credential) keeps its session
// across a restart, and its first registration with a credential binds it.
TEST_F(RoundCoreTest, ALegacyClientIsBoundByItsFirstCredentialAfterAResume) {
  EngineConfig legacy{.updates_per_round = 4, .require_credential = false};
  auto store = store::InMemoryStore::Create();
  ASSERT_TRUE(store->Initialize(Model(), legacy.strategy.name, now_).ok());
  uint64_t id = 0;
  {
    auto old = RoundCore::Create(legacy, Model(), now_, true);
    ASSERT_TRUE(old.ok());
    auto r = (*old)->Register("old", {}, TokenDigest("token-old"), now_, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    id = *r;
    PendingWrite w = (*old)->TakePendingWrite();
    ASSERT_TRUE(store->Write(w.batch).ok());
    (*old)->OnWriteCommitted(std::move(w));
  }
  EngineConfig now_cfg{.updates_per_round = 4};  // credentials required from here on
  auto rec = store->Recover(SpecOf(Model()), MaxStaleness(now_cfg));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->clients.size(), 1u);
  EXPECT_EQ(rec->clients[0].credential_sha256, "");
  auto resumed = RoundCore::Resume(now_cfg, SpecOf(Model()), std::move(*rec), now_, "memory");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  RoundCore& core = **resumed;
  EXPECT_TRUE(core.Authenticate(id, "token-old").ok()) << "its session survives the upgrade";
  EXPECT_EQ(core.Register("old", {}, TokenDigest("x"), now_, "").status().code(),
            StatusCode::kInvalidArgument);
  auto bound = core.Register("old", {}, TokenDigest("token-new"), now_, "secret-old");
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(*bound, id);
  PendingWrite w = core.TakePendingWrite();
  ASSERT_EQ(w.batch.clients.size(), 1u);
  EXPECT_EQ(w.batch.clients[0].credential_sha256, TokenDigest("secret-old"));
  ASSERT_TRUE(store->Write(w.batch).ok());
  core.OnWriteCommitted(std::move(w));
  EXPECT_EQ(core.Register("old", {}, TokenDigest("y"), now_, "another-secret").status().code(),
            StatusCode::kPermissionDenied);
  auto after = store->Recover(SpecOf(Model()), MaxStaleness(now_cfg));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->clients[0].credential_sha256, TokenDigest("secret-old")) << "kept durably";
}

TEST_F(RoundCoreTest, ARetryOfAnAcceptedUpdateIsAnsweredAcceptedWhateverItsAge) {
  Make({.updates_per_round = 1, .max_staleness = 1});
  Client a = Reg("a"), b = Reg("b");
  const std::string first = Delta(1, 0, 0);
  EXPECT_FALSE(Send(a, first));
  ASSERT_EQ(driver_->Settle(now_).rounds.size(), 1u);  // version 2
  for (int i = 0; i < 3; ++i) {  // the job moves on: a's base 1 is now 4 versions old
    EXPECT_FALSE(Send(b, Delta(0, 0, static_cast<float>(i + 1))));
    ASSERT_EQ(driver_->Settle(now_).rounds.size(), 1u);
  }
  ASSERT_EQ(core_->version(), 5u);
  // The acknowledgement was lost; a resends the same update, no check-in.
  std::optional<UpdateOutcome> o = driver_->Offer(Meta(a, 1), first, now_, 50);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->accepted) << o->message;
  EXPECT_EQ(o->round_version, 2u);
  EXPECT_EQ(core_->version(), 5u) << "and it is not applied again";
  // Another payload from the same old base is simply too stale.
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  o = driver_->Offer(Meta(a, 1), Delta(2, 0, 0), now_, 51);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kTooStale);
}

TEST_F(RoundCoreTest, TheSameUpdateSentTwiceBeforeItIsRecordedIsAcceptedOnce) {
  Make({.updates_per_round = 4});
  Client a = Reg("a");
  const std::string payload = Delta(1, 0, 0);
  const uint64_t checksum = Xxh3(payload);
  // Both pass admission before either is recorded (two sends in flight).
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  ASSERT_FALSE(core_->Admit(Meta(a, 1), checksum, std::nullopt, now_));
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  ASSERT_FALSE(core_->Admit(Meta(a, 1), checksum, std::nullopt, now_));
  for (Ticket t : {Ticket{1}, Ticket{2}}) {
    PayloadCheck check = CheckUpdatePayload(payload, core_->spec(), 1 << 20, 1e6);
    core_->Submit(MakeValidatedUpdate(Meta(a, 1), payload, checksum, std::move(check.delta),
                                      now_, t, true),
                  now_);
  }
  Settled s = driver_->Settle(now_);
  ASSERT_EQ(s.acks.size(), 2u);
  EXPECT_TRUE(s.acks[0].outcome.accepted);
  EXPECT_TRUE(s.acks[1].outcome.accepted) << s.acks[1].outcome.message;
  EXPECT_EQ(s.acks[1].outcome.round_version, s.acks[0].outcome.round_version);
  EXPECT_NE(s.acks[1].outcome.message.find("already accepted"), std::string::npos);
  EXPECT_EQ(core_->Counters().buffered_updates, 1u);
  EXPECT_EQ(core_->Counters().accepted_updates, 1u) << "the retry is not counted again";
}

TEST_F(RoundCoreTest, ANonFiniteLossIsRejectedAndNeverStopsTheCore) {
  Make({.updates_per_round = 1});
  Client a = Reg("a");
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  UpdateMeta m = Meta(a, 1);
  m.mean_loss = std::nan("");
  std::optional<UpdateOutcome> o = driver_->Offer(m, Delta(1, 0, 0), now_, 1);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kMalformed);
  EXPECT_NE(o->message.find("mean_loss"), std::string::npos) << o->message;
  PendingWrite w = core_->TakePendingWrite();
  ASSERT_FALSE(w.batch.participations.empty());
  EXPECT_TRUE(std::isfinite(w.batch.participations.back().mean_loss)) << "the record stays storable";
  ASSERT_TRUE(core_->CheckIn(a.id, a.token, 2, now_).ok());
  m = Meta(a, 1);
  m.num_samples = 0;
  o = driver_->Offer(m, Delta(1, 0, 0), now_, 2);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, RejectReason::kMalformed);
  EXPECT_TRUE(core_->health().ok());
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  EXPECT_EQ(driver_->Settle(now_).rounds.size(), 1u);
}

TEST_F(RoundCoreTest, WithoutHistoryNothingIsRecorded) {
  Make({.updates_per_round = 1}, /*history=*/false);
  Client a = Reg("a");
  EXPECT_FALSE(Send(a, Delta(1, 0, 0)));
  Settled s = driver_->Settle(now_);
  ASSERT_EQ(s.rounds.size(), 1u);
  ASSERT_EQ(s.acks.size(), 1u);
  EXPECT_TRUE(s.acks[0].outcome.accepted);
  EXPECT_FALSE(core_->HasPendingWrite());
}

}  // namespace
}  // namespace murmur::server::core
