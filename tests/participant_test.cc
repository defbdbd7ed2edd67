// The client runtime's Participant against a real RoundEngine behind
// server::InProcessCoordinator (ctest -R client): several participants train
// a small linear-attention model and the global version advances; a
// restarted client keeps its identity and sends what its outbox holds; an
// update gone too stale is dropped; a coordinator that is unavailable for a
// while gets the update once it is back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "client/runtime/outbox.h"
#include "client/runtime/participant.h"
#include "client/runtime/state_dir.h"
#include "common/codec/tensor_codec.h"
#include "server/engine/in_process_coordinator.h"
#include "server/engine/round_engine.h"

namespace murmur {
namespace {

namespace fs = std::filesystem;
using client::Participant;
using client::ParticipantOptions;

class NoSensors final : public client::Sensors {
 public:
  client::PowerReading Power() override { return {}; }
  client::LoadReading CpuLoad() override { return {0.0, "test"}; }
  client::LoadReading GpuUtilization() override { return {std::nullopt, "test"}; }
};

// Random 28x28 images with labels 0..9: enough for the trainer to run.
data::ImageDataset RandomImages(size_t n, uint64_t seed) {
  data::ImageDataset d;
  d.rows = 28;
  d.cols = 28;
  d.num_classes = 10;
  Rng rng(seed);
  d.pixels.resize(n * 28 * 28);
  for (auto& p : d.pixels) p = static_cast<uint8_t>(rng.UniformInt(256));
  for (size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(rng.UniformInt(10)));
  return d;
}

// Fails the first `failures` pushes with UNAVAILABLE (as a coordinator that
// went down looks through the gRPC transport), then forwards everything.
class FlakyCoordinator final : public api::CoordinatorApi {
 public:
  FlakyCoordinator(api::CoordinatorApi* real, std::atomic<int>* failures)
      : real_(real), failures_(failures) {}
  Result<api::Registration> Register(const std::string& n, const api::ClientCapabilities& c,
                                     const std::string& s) override {
    return real_->Register(n, c, s);
  }
  Result<api::CheckInDecision> CheckIn(uint32_t k, uint64_t have) override {
    return real_->CheckIn(k, have);
  }
  Result<api::PulledModel> PullModel(uint64_t v) override {
    return real_->PullModel(v);
  }
  Result<api::UpdateOutcome> PushUpdate(const api::UpdateToPush& u) override {
    ++pushes;
    if (Down()) return UnavailableError("connection refused (test)");
    return real_->PushUpdate(u);
  }
  Status Leave(const std::string& r) override { return real_->Leave(r); }
  uint64_t client_id() const override { return real_->client_id(); }
  int pushes = 0;

 private:
  bool Down() { return failures_->load() > 0 && failures_->fetch_sub(1) > 0; }
  api::CoordinatorApi* real_;
  std::atomic<int>* failures_;
};

// A coordinator of another build: forwards to a real one, but its recipe
// asks for `optimizer`; remembers the capabilities each Register sent and
// counts pulls.
class OtherRecipeCoordinator final : public api::CoordinatorApi {
 public:
  OtherRecipeCoordinator(api::CoordinatorApi* real, std::string optimizer)
      : real_(real), optimizer_(std::move(optimizer)) {}
  Result<api::Registration> Register(const std::string& n, const api::ClientCapabilities& c,
                                     const std::string& s) override {
    capabilities = c;
    return real_->Register(n, c, s);
  }
  Result<api::CheckInDecision> CheckIn(uint32_t k, uint64_t have) override {
    Result<api::CheckInDecision> d = real_->CheckIn(k, have);
    if (d.ok()) d->recipe.optimizer = optimizer_;
    return d;
  }
  Result<api::PulledModel> PullModel(uint64_t v) override {
    ++pulls;
    return real_->PullModel(v);
  }
  Result<api::UpdateOutcome> PushUpdate(const api::UpdateToPush& u) override {
    return real_->PushUpdate(u);
  }
  Status Leave(const std::string& r) override { return real_->Leave(r); }
  uint64_t client_id() const override { return real_->client_id(); }
  api::ClientCapabilities capabilities;
  int pulls = 0;

 private:
  api::CoordinatorApi* real_;
  std::string optimizer_;
};

class ParticipantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("murmur_participant_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    model_ = *model::ParseModelConfig("dim=16,depth=1,heads=2");
    auto t = trainer::LocalTrainer::Create(model_, trainer::TrainOptions{.device = "cpu"});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    initial_ = (*t)->GetParameters();
    images_ = RandomImages(256, 3);
  }
  void TearDown() override {
    engine_.reset();
    fs::remove_all(root_);
  }

  void StartEngine(uint32_t m, uint64_t max_staleness = 4) { StartEngineWith(m, max_staleness, initial_); }

  void StartEngineWith(uint32_t m, uint64_t max_staleness, const TensorList& initial) {
    server::EngineConfig c;
    c.updates_per_round = m;
    c.max_staleness = max_staleness;
    c.wait_retry_s = 0.05;
    c.recipe = {.local_lr = 0.05, .batch_size = 8, .min_local_steps = 1, .max_local_steps = 20,
                .update_encoding = Encoding::kFp16};
    auto e = server::RoundEngine::Create(c, initial, SystemClock::Default(), &rng_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  std::unique_ptr<Participant> Make(const std::string& name, api::CoordinatorApi* api,
                                    uint64_t max_participations, uint32_t k = 3,
                                    std::function<void(int64_t)> on_step = {}) {
    ParticipantOptions o;
    o.on_step = std::move(on_step);
    o.name = name;
    o.model = model_;
    o.train.device = device_;
    o.capabilities.device = device_;
    o.seed = std::hash<std::string>{}(name);
    o.backoff = {.initial_s = 0.01, .max_s = 0.05};
    o.max_participations = max_participations;
    client::PolicyConfig pc;
    pc.k = k;
    auto policy = std::make_unique<client::ConfiguredPolicy>(pc, SystemClock::Default(), &sensors_,
                                                             Rng(1));
    auto state = client::StateDir::Open((root_ / name).string());
    EXPECT_TRUE(state.ok());
    std::vector<uint32_t> shard(128);
    for (uint32_t i = 0; i < shard.size(); ++i) shard[i] = i;
    return std::make_unique<Participant>(o, api, std::move(policy), std::move(*state),
                                         SystemClock::Default(), &examples_, shard);
  }

  // A valid update (zero delta) from `base`, as a crashed daemon leaves it.
  api::UpdateToPush ZeroUpdate(uint64_t base) {
    api::UpdateToPush u;
    u.base_version = base;
    u.local_steps = 2;
    u.num_samples = 16;
    u.mean_loss = 1.0;
    TensorList zero = ZerosLike(SpecOf(initial_));
    u.payload = *EncodeTensors(zero);
    return u;
  }

  fs::path root_;
  model::ModelConfig model_;
  TensorList initial_;
  data::ImageDataset images_;
  model::Examples examples_ = model::Examples::Images(images_);
  NoSensors sensors_;
  std::string device_ = "cpu";  // the configured device ("auto": the trainer picks)
  Rng rng_{5};
  std::unique_ptr<server::RoundEngine> engine_;
};

TEST_F(ParticipantTest, ThreeClientsAdvanceTheModel) {
  StartEngine(/*m=*/2);
  std::vector<std::unique_ptr<server::InProcessCoordinator>> sessions;
  std::vector<std::unique_ptr<Participant>> ps;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(std::make_unique<server::InProcessCoordinator>(engine_.get()));
    ps.push_back(Make("edge-" + std::to_string(i), sessions.back().get(), 2));
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(3);
  for (int i = 0; i < 3; ++i) threads.emplace_back([&, i] { results[i] = ps[i]->Run(); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].ToString();
    const auto s = ps[i]->stats();
    EXPECT_EQ(s.accepted + s.rejected, 2u);
    EXPECT_GE(s.accepted, 1u);
    auto id = client::StateDir::Open((root_ / ("edge-" + std::to_string(i))).string())->LoadIdentity();
    ASSERT_TRUE(id.ok() && id->has_value());
    EXPECT_EQ((*id)->client_id, sessions[i]->client_id());
    EXPECT_EQ((*id)->enrollment_secret.size(), 32u);
    EXPECT_TRUE(client::Outbox((root_ / ("edge-" + std::to_string(i)) / "outbox").string())
                    .List()->empty());
  }
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_GE(engine_->version(), 3u) << "6 updates at m = 2: at least two rounds closed";
}

TEST_F(ParticipantTest, RestartReusesIdentityAndSendsTheOutbox) {
  StartEngine(/*m=*/1);
  uint64_t first_id = 0;
  {
    server::InProcessCoordinator s(engine_.get());
    auto p = Make("edge-r", &s, 1);
    ASSERT_TRUE(p->Run().ok());
    first_id = s.client_id();
  }
  ASSERT_TRUE(engine_->Flush().ok());
  const uint64_t v = engine_->version();
  // The daemon died after saving an update and before its answer.
  client::Outbox box((root_ / "edge-r" / "outbox").string());
  ASSERT_TRUE(box.Put(ZeroUpdate(v), 1.0).ok());

  server::InProcessCoordinator s2(engine_.get());
  auto p = Make("edge-r", &s2, 1);
  ASSERT_TRUE(p->Run().ok());
  EXPECT_EQ(s2.client_id(), first_id) << "same name and secret: same client id";
  EXPECT_EQ(p->stats().accepted, 1u) << "the outbox update went through after a check-in";
  EXPECT_EQ(p->stats().trained, 0u) << "the limit of 1 was reached by the outbox update";
  EXPECT_TRUE(box.List()->empty());
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), v + 1);
}

TEST_F(ParticipantTest, TooStaleOutboxUpdateIsDropped) {
  StartEngine(/*m=*/1, /*max_staleness=*/0);
  {
    server::InProcessCoordinator s(engine_.get());
    auto p = Make("edge-s", &s, 2);
    ASSERT_TRUE(p->Run().ok());
  }
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_GE(engine_->version(), 3u);
  client::Outbox box((root_ / "edge-s" / "outbox").string());
  ASSERT_TRUE(box.Put(ZeroUpdate(1), 1.0).ok());  // versions start at 1
  server::InProcessCoordinator s2(engine_.get());
  auto p = Make("edge-s", &s2, 1);
  ASSERT_TRUE(p->Run().ok());
  EXPECT_EQ(p->stats().rejected, 1u);
  EXPECT_TRUE(box.List()->empty());
  auto rec = client::StateDir::Open((root_ / "edge-s").string())->LoadParticipation();
  ASSERT_TRUE(rec.ok());
  EXPECT_NE(rec->outcome.find("too_stale"), std::string::npos) << rec->outcome;
}

// SIGTERM's path: Stop during a local job ends it at a step boundary; the
// partial update (5 of 20 steps, above the minimum of 1) waits in the outbox
// unsent, and the next start sends it.
TEST_F(ParticipantTest, StopEndsTrainingAtAStepBoundaryAndKeepsTheUpdate) {
  StartEngine(/*m=*/1);
  ASSERT_TRUE(engine_->Flush().ok());
  const uint64_t v = engine_->version();
  {
    server::InProcessCoordinator s(engine_.get());
    Participant* self = nullptr;
    auto p = Make("edge-t", &s, 0, /*k=*/20, [&](int64_t step) {
      if (step == 5) self->Stop();
    });
    self = p.get();
    ASSERT_TRUE(p->Run().ok());
    EXPECT_EQ(p->stats().trained, 1u);
    EXPECT_EQ(p->stats().accepted, 0u);
  }
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), v) << "nothing was sent";
  client::Outbox box((root_ / "edge-t" / "outbox").string());
  const auto pending = box.List();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].update.local_steps, 5u);

  server::InProcessCoordinator s2(engine_.get());
  auto p2 = Make("edge-t", &s2, 1);
  ASSERT_TRUE(p2->Run().ok());
  EXPECT_EQ(p2->stats().accepted, 1u);
  EXPECT_EQ(p2->stats().trained, 0u);
  EXPECT_TRUE(box.List()->empty());
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), v + 1);
}

TEST_F(ParticipantTest, UnavailableCoordinatorGetsTheUpdateLater) {
  StartEngine(/*m=*/1);
  server::InProcessCoordinator real(engine_.get());
  std::atomic<int> failures{4};  // down when the client finishes training
  FlakyCoordinator flaky(&real, &failures);
  auto p = Make("edge-f", &flaky, 1);
  ASSERT_TRUE(p->Run().ok());
  EXPECT_EQ(p->stats().trained, 1u);
  EXPECT_EQ(p->stats().accepted, 1u) << "sent from the outbox once the coordinator was back";
  EXPECT_EQ(p->stats().transient_errors, 4u);
  EXPECT_EQ(flaky.pushes, 5);
  EXPECT_TRUE(client::Outbox((root_ / "edge-f" / "outbox").string()).List()->empty());
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->version(), 2u);
}

}  // namespace
}  // namespace murmur

namespace murmur {
namespace {

// The job's model is not this client's (another width): the client says so
// at registration, naming the first difference, trains nothing and leaves.
TEST_F(ParticipantTest, MismatchedModelSpecStopsBeforeTraining) {
  auto other = trainer::LocalTrainer::Create(*model::ParseModelConfig("dim=8,depth=1,heads=2"),
                                             trainer::TrainOptions{.device = "cpu"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  StartEngineWith(/*m=*/2, 4, (*other)->GetParameters());
  server::InProcessCoordinator session(engine_.get());
  auto p = Make("edge-other-model", &session, 1);
  const Status st = p->Run();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("this client's model cannot serve the job"), std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("in the job's model but"), std::string::npos) << st.ToString();
  EXPECT_EQ(p->stats().trained, 0u);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->Stats().registered_clients, 0u) << "the client left";
}

// The recipe asks for an optimizer this client does not implement: it
// refuses with the name and what it has, before pulling or training.
TEST_F(ParticipantTest, UnknownOptimizerStopsBeforeTraining) {
  StartEngine(/*m=*/2);
  server::InProcessCoordinator real(engine_.get());
  OtherRecipeCoordinator session(&real, "lion");
  auto p = Make("edge-lion", &session, 1);
  const Status st = p->Run();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("optimizer 'lion'"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("sgd, momentum, adam, adamw"), std::string::npos) << st.ToString();
  EXPECT_EQ(p->stats().trained, 0u);
  EXPECT_EQ(session.pulls, 0);
}

// A known optimizer from the recipe is used, and the capabilities name the
// device the trainer picked, not "auto".
TEST_F(ParticipantTest, RecipeOptimizerTrainsAndDeviceIsTheOnePicked) {
  StartEngine(/*m=*/1);
  server::InProcessCoordinator real(engine_.get());
  OtherRecipeCoordinator session(&real, "adam");
  device_ = "auto";
  auto p = Make("edge-adam", &session, 1);
  ASSERT_TRUE(p->Run().ok());
  EXPECT_EQ(p->stats().accepted, 1u);
  EXPECT_NE(session.capabilities.device, "auto");
  EXPECT_TRUE(session.capabilities.device == "cpu" ||
              session.capabilities.device.rfind("cuda", 0) == 0)
      << session.capabilities.device;
}

}  // namespace
}  // namespace murmur
