// The CoordinatorApi conformance suite: ONE set of tests, run unchanged
// against every implementation, each in front of a real RoundEngine:
//   InProcessBackend  server::InProcessCoordinator (no network)
//   GrpcBackend       client::GrpcCoordinator -> loopback gRPC ->
//                     server::CoordinatorService
// Both must answer every call the same way: the same decisions, the same
// rejection reasons and messages, the same Status codes.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/transport/grpc_coordinator.h"
#include "common/api/coordinator_api.h"
#include "server/engine/in_process_coordinator.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"

// The implementations under test, at global scope so that ctest's test
// names read ...<InProcessBackend> and ...<GrpcBackend>.

// Sessions straight on the engine.
class InProcessBackend {
 public:
  void Start(murmur::server::RoundEngine* engine) { engine_ = engine; }
  void Stop() {}
  std::unique_ptr<murmur::api::CoordinatorApi> NewSession() {
    return std::make_unique<murmur::server::InProcessCoordinator>(engine_);
  }

 private:
  murmur::server::RoundEngine* engine_ = nullptr;
};

// Sessions over loopback gRPC to a CoordinatorService on the engine. Small
// chunks, so models and updates travel as many-chunk streams.
class GrpcBackend {
 public:
  void Start(murmur::server::RoundEngine* engine) {
    service_ = std::make_unique<murmur::server::CoordinatorService>(engine);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr && port_ != 0) << "could not listen on 127.0.0.1";
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
  }
  void Stop() {
    if (server_) server_->Shutdown();
  }
  std::unique_ptr<murmur::api::CoordinatorApi> NewSession() {
    return std::make_unique<murmur::client::GrpcCoordinator>(
        channel_,
        murmur::client::GrpcCoordinatorOptions{.chunk_bytes = 512, .rpc_timeout_s = 30});
  }

 private:
  std::unique_ptr<murmur::server::CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

namespace murmur {
namespace {

using api::CheckInDecision;
using api::RejectReason;

const ModelSpec kSpec = {{"layer.weight", {64, 8}}, {"layer.bias", {8}}};

// Same names, shapes and values, bit for bit.
void ExpectSameModel(const TensorList& got, const TensorList& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].shape, want[i].shape) << got[i].name;
    EXPECT_EQ(got[i].data, want[i].data) << got[i].name;
  }
}

template <typename Backend>
class ApiConformanceTest : public ::testing::Test {
 protected:
  // m = 2 updates per round, K in [2, 9], updates may be 1 version old.
  static server::EngineConfig BaseConfig() {
    server::EngineConfig c;
    c.updates_per_round = 2;
    c.max_staleness = 1;
    c.wait_retry_s = 0.5;
    c.recipe = {.local_lr = 0.07,
                .batch_size = 8,
                .min_local_steps = 2,
                .max_local_steps = 9,
                .update_encoding = Encoding::kFp16,
                .optimizer = "momentum",
                .momentum = 0.8};
    return c;
  }

  void Start(server::EngineConfig config = BaseConfig()) {
    config_ = config;
    Rng init(11);
    initial_ = RandomNormal(kSpec, init, 0.1);
    auto engine = server::RoundEngine::Create(config, initial_, &clock_, &rng_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    backend_.Start(engine_.get());
  }

  void TearDown() override {
    backend_.Stop();
    engine_.reset();
  }

  std::unique_ptr<api::CoordinatorApi> Session() { return backend_.NewSession(); }

  // The deterministic enrollment secret of a test client.
  static std::string Secret(const std::string& name) { return "enrollment-secret-" + name; }

  std::unique_ptr<api::CoordinatorApi> Registered(const std::string& name,
                                                  api::ClientCapabilities caps = {.device = "cpu"}) {
    auto s = Session();
    auto reg = s->Register(name, caps, Secret(name));
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    return s;
  }

  // Checks in for K = `k` and expects to be told to train.
  void CheckInToTrain(api::CoordinatorApi& s, uint32_t k = 3) {
    auto d = s.CheckIn(k, 0);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_EQ(d->kind, CheckInDecision::Kind::kTrain) << d->reason;
  }

  // A delta of `value` everywhere, in the model's shape (or `spec`).
  static api::UpdateToPush Update(uint64_t base, float value, uint32_t k = 3,
                                  const ModelSpec& spec = kSpec) {
    TensorList delta = ZerosLike(spec);
    for (Tensor& t : delta) std::fill(t.data.begin(), t.data.end(), value);
    const bool finite = std::isfinite(value);
    api::UpdateToPush u;
    u.base_version = base;
    u.local_steps = k;
    u.num_samples = 8 * k;
    u.mean_loss = 0.5;
    u.train_seconds = 0.01;
    u.payload = *EncodeTensors(delta, {.allow_nonfinite = !finite});
    return u;
  }

  // Pushes and expects an OK call with a rejection for `reason`.
  void ExpectRejected(api::CoordinatorApi& s, const api::UpdateToPush& u, RejectReason reason,
                      const std::string& message_part) {
    auto o = s.PushUpdate(u);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    EXPECT_FALSE(o->accepted);
    EXPECT_EQ(o->reason, reason) << api::RejectReasonName(o->reason) << ": " << o->message;
    EXPECT_NE(o->message.find(message_part), std::string::npos) << o->message;
  }

  uint64_t SnapshotBytes() { return (*engine_->Snapshot(0))->bytes.size(); }

  ManualClock clock_;
  Rng rng_{5};
  server::EngineConfig config_;
  TensorList initial_;
  std::unique_ptr<server::RoundEngine> engine_;
  Backend backend_;
};

using Backends = ::testing::Types<InProcessBackend, GrpcBackend>;
TYPED_TEST_SUITE(ApiConformanceTest, Backends);

TYPED_TEST(ApiConformanceTest, CallsBeforeRegisterFail) {
  this->Start();
  auto s = this->Session();
  EXPECT_EQ(s->client_id(), 0u);
  EXPECT_EQ(s->CheckIn(3, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->PullModel(0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->PushUpdate(this->Update(1, 0.1f)).status().code(), StatusCode::kFailedPrecondition);
  const Status leave = s->Leave("bye");
  EXPECT_EQ(leave.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(leave.message().find("call Register first"), std::string::npos) << leave.ToString();
  auto bad = s->Register("", {}, this->Secret("nobody"));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("client name"), std::string::npos);
}

TYPED_TEST(ApiConformanceTest, RegisterStartsASession) {
  this->Start();
  auto a = this->Session();
  auto reg = a->Register("alice", {.device = "cpu", .memory_bytes = 1 << 20, .num_samples = 64},
                         this->Secret("alice"));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_NE(reg->client_id, 0u);
  EXPECT_EQ(a->client_id(), reg->client_id);
  EXPECT_FALSE(reg->token.empty());
  EXPECT_EQ(reg->model_version, 1u);
  EXPECT_EQ(reg->model_bytes, this->SnapshotBytes());
  EXPECT_EQ(reg->model_spec, kSpec);  // the job's model, names and shapes in order
  auto b = this->Session();
  auto reg_b = b->Register("bob", {.device = "cpu"}, this->Secret("bob"));
  ASSERT_TRUE(reg_b.ok());
  EXPECT_NE(reg_b->client_id, reg->client_id);
  EXPECT_EQ(this->engine_->Stats().registered_clients, 2u);
}

// A name is bound to the enrollment secret of its first registration:
// another secret (or none) cannot take it over, and the real client's
// session keeps working; the same secret registers again.
TYPED_TEST(ApiConformanceTest, RegisteringAnotherClientsNameNeedsItsSecret) {
  this->Start();
  auto alice = this->Registered("alice");
  const uint64_t id = alice->client_id();
  auto thief = this->Session();
  auto taken = thief->Register("alice", {.device = "cpu"}, "a-different-secret-of-16+");
  EXPECT_EQ(taken.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(taken.status().message().find("client name 'alice' is bound to another credential"),
            std::string::npos)
      << taken.status().ToString();
  EXPECT_EQ(thief->client_id(), 0u);
  auto anonymous = thief->Register("alice", {.device = "cpu"}, "");
  EXPECT_EQ(anonymous.status().code(), StatusCode::kPermissionDenied);
  auto short_secret = thief->Register("alice", {.device = "cpu"}, "short");
  EXPECT_EQ(short_secret.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_secret.status().message().find("16"), std::string::npos)
      << short_secret.status().ToString();
  // The real client's session was not touched.
  this->CheckInToTrain(*alice);
  auto o = alice->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->accepted) << o->message;
  // The same secret re-registers the same client.
  auto again = this->Session();
  auto reg = again->Register("alice", {.device = "cpu"}, this->Secret("alice"));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->client_id, id);
  // A new name without a secret is refused (the coordinator requires one).
  auto nameless = this->Session()->Register("carol", {.device = "cpu"}, "");
  EXPECT_EQ(nameless.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nameless.status().message().find("credential"), std::string::npos)
      << nameless.status().ToString();
}

TYPED_TEST(ApiConformanceTest, RegisteringAgainReplacesTheOldSession) {
  this->Start();
  auto old_session = this->Session();
  auto first = old_session->Register("alice", {.device = "cpu"}, this->Secret("alice"));
  ASSERT_TRUE(first.ok());
  auto new_session = this->Session();
  auto second = new_session->Register("alice", {.device = "cpu"}, this->Secret("alice"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->client_id, first->client_id);  // the same client...
  EXPECT_NE(second->token, first->token);          // ...in a new session

  auto d = old_session->CheckIn(3, 0);
  EXPECT_EQ(d.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(d.status().message().find("bad session token"), std::string::npos)
      << d.status().ToString();
  EXPECT_EQ(old_session->Leave("stale").code(), StatusCode::kPermissionDenied);

  this->CheckInToTrain(*new_session);
  // The old session's update is a rejection with the reason, not an error.
  this->ExpectRejected(*old_session, this->Update(1, 0.1f), RejectReason::kBadToken,
                       "bad session token");
  auto o = new_session->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->accepted) << o->message;
}

TYPED_TEST(ApiConformanceTest, CheckInGrantsTrainingWithTheRecipe) {
  this->Start();
  auto a = this->Registered("alice");
  auto d = a->CheckIn(5, 0);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(d->model_version, 1u);
  EXPECT_EQ(d->model_bytes, this->SnapshotBytes());
  EXPECT_EQ(d->local_steps, 5u);
  EXPECT_EQ(d->recipe.local_lr, 0.07);
  EXPECT_EQ(d->recipe.batch_size, 8u);
  EXPECT_EQ(d->recipe.min_local_steps, 2u);
  EXPECT_EQ(d->recipe.max_local_steps, 9u);
  EXPECT_EQ(d->recipe.update_encoding, Encoding::kFp16);
  EXPECT_EQ(d->recipe.optimizer, "momentum");
  EXPECT_EQ(d->recipe.momentum, 0.8);
  EXPECT_EQ(d->recipe.model_spec_hash, api::ModelSpecHash(kSpec));
  EXPECT_FALSE(d->have_current);  // it holds no version
  EXPECT_EQ(d->retry_after_s, 0.0);
  EXPECT_EQ(d->reason, "");

  // K is clamped to the accepted range; 0 means the minimum.
  EXPECT_EQ(a->CheckIn(50, 1)->local_steps, 9u);
  EXPECT_EQ(a->CheckIn(0, 1)->local_steps, 2u);
  // ...and to the client's own cap.
  auto capped = this->Registered("bob", {.device = "cpu", .max_local_steps = 4});
  EXPECT_EQ(capped->CheckIn(8, 0)->local_steps, 4u);
}

// have_version: a client that already holds the granted version is told so
// (have_current) and need not pull; any other version (or none) is not.
TYPED_TEST(ApiConformanceTest, CheckInSaysWhetherTheHeldVersionIsCurrent) {
  this->Start();
  auto a = this->Registered("alice");
  auto held = a->CheckIn(3, 1);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_EQ(held->kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(held->model_version, 1u);
  EXPECT_TRUE(held->have_current);
  auto none = a->CheckIn(3, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->have_current);
  auto other = a->CheckIn(3, 7);  // a version this coordinator never published
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->have_current);
  EXPECT_EQ(other->model_version, 1u);
}

// Capabilities.encodings: a client that cannot produce the job's update
// encoding (fp16 here) is refused with both named; one that can, or that
// states nothing, registers.
TYPED_TEST(ApiConformanceTest, RegisterRefusesAClientWithoutTheJobsEncoding) {
  this->Start();
  auto s = this->Session();
  auto refused = s->Register(
      "old", {.device = "cpu", .encodings = {Encoding::kFp32, Encoding::kInt8}},
      this->Secret("old"));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("this job's updates are fp16 but the client can "
                                            "produce only fp32, int8"),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(s->client_id(), 0u);
  EXPECT_EQ(this->engine_->Stats().registered_clients, 0u);
  auto able = this->Session()->Register(
      "able", {.device = "cpu", .encodings = {Encoding::kFp32, Encoding::kFp16}},
      this->Secret("able"));
  EXPECT_TRUE(able.ok()) << able.status().ToString();
  auto silent = this->Session()->Register("silent", {.device = "cpu"}, this->Secret("silent"));
  EXPECT_TRUE(silent.ok()) << silent.status().ToString();
}

TYPED_TEST(ApiConformanceTest, CheckInSaysWaitAtTheTrainerCap) {
  auto config = this->BaseConfig();
  config.max_concurrent_trainers = 1;
  this->Start(config);
  auto a = this->Registered("alice");
  auto b = this->Registered("bob");
  this->CheckInToTrain(*a);
  auto d = b->CheckIn(3, 0);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->kind, CheckInDecision::Kind::kWait);
  EXPECT_EQ(d->retry_after_s, 0.5);
  EXPECT_NE(d->reason.find("concurrent trainer cap (1) reached"), std::string::npos) << d->reason;
  EXPECT_EQ(d->model_version, 0u);  // the wire's Wait carries no version
  EXPECT_EQ(d->local_steps, 0u);
  // The slot frees when alice's update arrives.
  auto o = a->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->accepted) << o->message;
  this->CheckInToTrain(*b);
}

TYPED_TEST(ApiConformanceTest, CheckInSaysFinishedAfterTheLastRound) {
  auto config = this->BaseConfig();
  config.updates_per_round = 1;
  config.max_rounds = 1;
  this->Start(config);
  auto a = this->Registered("alice");
  this->CheckInToTrain(*a);
  auto o = a->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->accepted) << o->message;
  ASSERT_TRUE(this->engine_->Flush().ok());
  auto d = a->CheckIn(3, 2);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->kind, CheckInDecision::Kind::kFinished);
  EXPECT_EQ(d->model_version, 2u);
  EXPECT_NE(d->reason.find("finished at version 2"), std::string::npos) << d->reason;
  this->ExpectRejected(*a, this->Update(2, 0.1f), RejectReason::kFinished, "the job has finished");
  // The final model can still be downloaded.
  auto pulled = a->PullModel(d->model_version);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->version, 2u);
}

TYPED_TEST(ApiConformanceTest, PullModelServesTheCurrentVersion) {
  this->Start();
  auto a = this->Registered("alice");
  for (uint64_t asked : {uint64_t{0}, uint64_t{1}}) {
    auto pulled = a->PullModel(asked);
    ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
    EXPECT_EQ(pulled->version, 1u);
    EXPECT_EQ(pulled->encoding, Encoding::kFp32);
    EXPECT_EQ(pulled->bytes, (*this->engine_->Snapshot(1))->bytes);
    auto model = DecodeTensors(pulled->bytes, {.expected = &kSpec});
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    ExpectSameModel(*model, this->initial_);
  }
  auto missing = a->PullModel(7);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("model version 7 is no longer served"),
            std::string::npos)
      << missing.status().ToString();
}

TYPED_TEST(ApiConformanceTest, PullModelSaysHowTheModelIsEncoded) {
  auto config = this->BaseConfig();
  config.model_encoding = Encoding::kBf16;
  this->Start(config);
  auto a = this->Registered("alice");
  auto pulled = a->PullModel(0);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->encoding, Encoding::kBf16);
  auto model = DecodeTensors(pulled->bytes, {.expected = &kSpec});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // The engine's model, rounded to bf16 (8 significant bits).
  const TensorList global = this->engine_->GlobalModel();
  ASSERT_EQ(model->size(), global.size());
  for (size_t i = 0; i < global.size(); ++i) {
    ASSERT_EQ((*model)[i].data.size(), global[i].data.size());
    for (size_t j = 0; j < global[i].data.size(); ++j) {
      EXPECT_NEAR((*model)[i].data[j], global[i].data[j], std::abs(global[i].data[j]) / 256)
          << global[i].name << "[" << j << "]";
    }
  }
}

TYPED_TEST(ApiConformanceTest, AcceptedUpdatesCloseARoundAndTheNewVersionIsServed) {
  this->Start();  // m = 2, fedavg_participants, eta = 1
  auto a = this->Registered("alice");
  auto b = this->Registered("bob");
  this->CheckInToTrain(*a);
  this->CheckInToTrain(*b);
  auto oa = a->PushUpdate(this->Update(1, 0.5f, 3));
  ASSERT_TRUE(oa.ok()) << oa.status().ToString();
  EXPECT_TRUE(oa->accepted) << oa->message;
  EXPECT_EQ(oa->reason, RejectReason::kNone);
  EXPECT_EQ(oa->staleness, 0u);
  EXPECT_EQ(oa->round_version, 2u);
  EXPECT_EQ(this->engine_->version(), 1u);  // one of m = 2
  auto ob = b->PushUpdate(this->Update(1, 1.5f, 4));
  ASSERT_TRUE(ob.ok()) << ob.status().ToString();
  EXPECT_TRUE(ob->accepted) << ob->message;
  EXPECT_EQ(ob->round_version, 2u);
  ASSERT_TRUE(this->engine_->Flush().ok());
  ASSERT_EQ(this->engine_->version(), 2u);

  auto d = a->CheckIn(3, 1);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->kind, CheckInDecision::Kind::kTrain);
  EXPECT_EQ(d->model_version, 2u);
  auto pulled = a->PullModel(d->model_version);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->version, 2u);
  auto model = DecodeTensors(pulled->bytes, {.expected = &kSpec});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ExpectSameModel(*model, this->engine_->GlobalModel());
  // x_2 = x_1 + mean of the two deltas (0.5 and 1.5).
  EXPECT_FLOAT_EQ((*model)[0].data[17], this->initial_[0].data[17] + 1.0f);
  // The previous version stays available to a client mid-download.
  auto previous = a->PullModel(1);
  ASSERT_TRUE(previous.ok()) << previous.status().ToString();
  EXPECT_EQ(previous->version, 1u);
}

TYPED_TEST(ApiConformanceTest, StaleUpdatesAreRejected) {
  auto config = this->BaseConfig();
  config.updates_per_round = 1;
  config.max_staleness = 0;
  this->Start(config);
  auto a = this->Registered("alice");
  auto b = this->Registered("bob");
  this->CheckInToTrain(*a);
  this->CheckInToTrain(*b);
  auto o = a->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(o->accepted) << o->message;
  ASSERT_TRUE(this->engine_->Flush().ok());
  auto stale = b->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(stale.ok()) << stale.status().ToString();
  EXPECT_FALSE(stale->accepted);
  EXPECT_EQ(stale->reason, RejectReason::kTooStale);
  EXPECT_EQ(stale->staleness, 1u);
  EXPECT_NE(stale->message.find("update is 1 versions old (base 1, current 2); the limit is 0"),
            std::string::npos)
      << stale->message;
}

TYPED_TEST(ApiConformanceTest, BrokenUpdatesAreRejectedWithTheReason) {
  this->Start();
  auto a = this->Registered("alice");
  const ModelSpec wrong_shape = {{"layer.weight", {8, 64}}, {"layer.bias", {8}}};

  this->CheckInToTrain(*a);
  this->ExpectRejected(*a, this->Update(1, 0.1f, 3, wrong_shape), RejectReason::kShapeMismatch,
                       "layer.weight");
  this->CheckInToTrain(*a);
  this->ExpectRejected(*a, this->Update(1, std::numeric_limits<float>::quiet_NaN()),
                       RejectReason::kNonFinite, "");
  this->CheckInToTrain(*a);
  this->ExpectRejected(*a, this->Update(1, 0.1f, 10), RejectReason::kLocalStepsOutOfRange,
                       "local steps K=10 outside the accepted range [2, 9]");
  this->CheckInToTrain(*a);
  this->ExpectRejected(*a, this->Update(5, 0.1f), RejectReason::kMalformed,
                       "base version 5 is newer than the current version 1");
  this->CheckInToTrain(*a);
  api::UpdateToPush garbage = this->Update(1, 0.1f);
  garbage.payload = "not a model";
  this->ExpectRejected(*a, garbage, RejectReason::kMalformed, "");

  // A second update without a new check-in is a duplicate.
  this->CheckInToTrain(*a);
  auto o = a->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->accepted) << o->message;
  this->ExpectRejected(*a, this->Update(1, 0.2f), RejectReason::kDuplicate,
                       "no check-in is outstanding for this client");
  // The same update again is a retry (its acknowledgement may have been
  // lost): answered as before, not applied twice.
  auto retry = a->PushUpdate(this->Update(1, 0.1f));
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->accepted) << retry->message;
  EXPECT_EQ(retry->round_version, o->round_version);

  ASSERT_TRUE(this->engine_->Flush().ok());
  EXPECT_EQ(this->engine_->version(), 1u);  // nothing but the one good update went in
  EXPECT_EQ(this->engine_->Stats().buffered_updates, 1u);
  ExpectSameModel(this->engine_->GlobalModel(), this->initial_);
}

TYPED_TEST(ApiConformanceTest, ABusyCoordinatorIsUnavailable) {
  auto config = this->BaseConfig();
  config.max_queued_bytes = 1;  // every update finds the queue full
  this->Start(config);
  auto a = this->Registered("alice");
  this->CheckInToTrain(*a);
  auto o = a->PushUpdate(this->Update(1, 0.1f));
  EXPECT_EQ(o.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(o.status().message().find("coordinator busy"), std::string::npos)
      << o.status().ToString();
  // Nothing was recorded and the check-in stays open: a retry meets the
  // same answer, not a duplicate rejection.
  EXPECT_EQ(a->PushUpdate(this->Update(1, 0.1f)).status().code(), StatusCode::kUnavailable);
}

TYPED_TEST(ApiConformanceTest, AfterLeaveCallsFailUntilRegisteredAgain) {
  this->Start();
  auto a = this->Registered("alice");
  this->CheckInToTrain(*a);
  ASSERT_TRUE(a->Leave("done for today").ok());
  auto d = a->CheckIn(3, 0);
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(d.status().message().find("has left"), std::string::npos) << d.status().ToString();
  this->ExpectRejected(*a, this->Update(1, 0.1f), RejectReason::kBadToken, "has left");
  EXPECT_EQ(a->Leave("again").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->engine_->Stats().active_trainers, 0u);  // its check-in was dropped

  auto back = a->Register("alice", {.device = "cpu"}, this->Secret("alice"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  this->CheckInToTrain(*a);
}

TYPED_TEST(ApiConformanceTest, ConcurrentSessionsRunAJobToTheEnd) {
  auto config = this->BaseConfig();
  config.updates_per_round = 3;
  config.max_rounds = 4;
  config.max_staleness = 100;
  config.wait_retry_s = 0.001;
  this->Start(config);
  constexpr int kClients = 6;
  std::vector<std::unique_ptr<api::CoordinatorApi>> sessions;
  for (int i = 0; i < kClients; ++i) sessions.push_back(this->Registered("c" + std::to_string(i)));
  std::atomic<int> accepted{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      api::CoordinatorApi& s = *sessions[i];
      for (int step = 0; step < 1000; ++step) {
        auto d = s.CheckIn(3, 0);
        if (!d.ok()) {
          ++errors;
          return;
        }
        if (d->kind == CheckInDecision::Kind::kFinished) return;
        if (d->kind == CheckInDecision::Kind::kWait) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        auto pulled = s.PullModel(d->model_version);
        if (!pulled.ok()) {
          // Superseded while we were on the way: check in again.
          if (pulled.status().code() != StatusCode::kNotFound) ++errors;
          continue;
        }
        auto o = s.PushUpdate(this->Update(pulled->version, 0.01f));
        if (!o.ok()) {
          ++errors;
          return;
        }
        if (o->accepted) ++accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_TRUE(this->engine_->Flush().ok());
  EXPECT_TRUE(this->engine_->finished());
  EXPECT_EQ(this->engine_->version(), 5u);
  EXPECT_GE(accepted.load(), 12);  // 4 rounds of m = 3
}

}  // namespace
}  // namespace murmur
