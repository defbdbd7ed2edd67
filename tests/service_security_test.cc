// The Coordinator service seen from outside: a raw v1::Coordinator::Stub
// built from the .proto, over loopback gRPC, sending what a hostile or
// broken client would. Every rejection is checked for its gRPC status or
// reject reason AND for the engine's model version and bytes being
// unchanged (ctest -R service). Regressions of issue 11:
//   - PullModel needs a registered client and its session token;
//   - a stalled pull holds no thread (every method is a callback reactor);
//   - PushUpdate authenticates and size-checks the header before it reads a
//     chunk, and pushes share one in-flight budget (bytes and streams);
//   - a push the client cancelled (no half-close) submits nothing;
//   - served chunks fit a default client's 4 MiB receive limit.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"

namespace murmur {
namespace {

using Clock = std::chrono::steady_clock;

// 1.6M parameters: 6.4 MB in fp32, over gRPC's 4 MiB default message size.
const ModelSpec kSpec = {{"big.weight", {1600, 1000}}, {"big.bias", {1000}}};

struct Session {
  uint64_t id = 0;
  std::string token;
};

struct PushResult {
  grpc::Status status;
  v1::PushUpdateResponse response;
};

std::chrono::system_clock::time_point In(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Polls `pred` for up to 5 s.
template <typename Pred>
bool Eventually(Pred pred) {
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class ServiceSecurityTest : public ::testing::Test {
 protected:
  void Start(server::ServiceOptions options = {}) {
    Rng init(3);
    auto engine = server::RoundEngine::Create(
        server::EngineConfig{.updates_per_round = 1, .max_update_bytes = 16 << 20},
        RandomNormal(kSpec, init, 0.1), &clock_, &rng_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    service_ = std::make_unique<server::CoordinatorService>(engine_.get(), options);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(port_, 0);
    // Default channel arguments: a 4 MiB receive limit, as any client has.
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Coordinator::NewStub(channel_);
    before_version_ = engine_->version();
    before_bytes_ = CurrentModelBytes();
  }
  void TearDown() override {
    // The client first: a channel destroyed after the server went away can
    // spend seconds reconnecting.
    stub_.reset();
    channel_.reset();
    if (server_) server_->Shutdown(In(5));
  }

  std::string CurrentModelBytes() const {
    auto snap = engine_->Snapshot(0);
    EXPECT_TRUE(snap.ok());
    return snap.ok() ? (*snap)->bytes : std::string();
  }
  // Nothing any rejected call sent reached the model.
  void ExpectModelUnchanged() {
    ASSERT_TRUE(engine_->Flush().ok());
    EXPECT_EQ(engine_->version(), before_version_);
    EXPECT_TRUE(CurrentModelBytes() == before_bytes_) << "the model bytes changed";
  }

  Session Register(const std::string& name) {
    return RegisterWith(name, "enrollment-secret-" + name);
  }
  // A raw Register whose outcome is the test's to check.
  grpc::Status TryRegister(const std::string& name, const std::string& secret,
                           v1::RegisterResponse* resp) {
    v1::RegisterRequest req;
    req.set_client_name(name);
    req.set_enrollment_secret(secret);
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    return stub_->Register(&ctx, req, resp);
  }
  Session RegisterWith(const std::string& name, const std::string& secret) {
    v1::RegisterRequest req;
    req.set_client_name(name);
    req.set_enrollment_secret(secret);
    v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    const grpc::Status s = stub_->Register(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.client_id(), resp.session_token()};
  }
  void CheckInToTrain(const Session& s) {
    v1::CheckInRequest req;
    req.set_client_id(s.id);
    req.set_session_token(s.token);
    req.set_intended_local_steps(3);
    v1::CheckInResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    const grpc::Status st = stub_->CheckIn(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_TRUE(resp.has_train());
  }

  static std::string Payload(float value) {
    TensorList delta = ZerosLike(kSpec);
    for (Tensor& t : delta) std::fill(t.data.begin(), t.data.end(), value);
    return *EncodeTensors(delta);
  }
  static v1::PushUpdateMessage Header(const Session& s, const std::string& payload) {
    v1::PushUpdateMessage m;
    v1::UpdateHeader* h = m.mutable_header();
    h->set_client_id(s.id);
    h->set_session_token(s.token);
    h->set_base_version(1);
    h->set_local_steps(3);
    h->set_num_samples(48);
    h->set_mean_loss(0.5);
    h->set_total_bytes(payload.size());
    h->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
    h->mutable_checksum()->set_value(Xxh3(payload));
    return m;
  }
  // Writes chunks of `payload` until one is refused; true when all went.
  static bool WriteChunks(grpc::ClientWriter<v1::PushUpdateMessage>* w, const std::string& payload,
                          size_t chunk = 1 << 20) {
    for (size_t off = 0; off < payload.size(); off += chunk) {
      v1::PushUpdateMessage m;
      m.mutable_chunk()->set_offset(off);
      m.mutable_chunk()->set_data(payload.substr(off, chunk));
      if (!w->Write(m)) return false;
    }
    return true;
  }
  // A complete, well-formed push (header, chunks, half-close).
  PushResult Push(const Session& s, const std::string& payload) {
    PushResult r;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(20));
    auto w = stub_->PushUpdate(&ctx, &r.response);
    if (w->Write(Header(s, payload))) WriteChunks(w.get(), payload);
    w->WritesDone();
    r.status = w->Finish();
    return r;
  }

  ManualClock clock_;
  Rng rng_{5};
  std::unique_ptr<server::RoundEngine> engine_;
  std::unique_ptr<server::CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  int port_ = 0;
  uint64_t before_version_ = 0;
  std::string before_bytes_;
};

// Pulls version 0 with `id` and `token`; returns the status and counts the
// chunks that arrived.
grpc::Status PullAll(v1::Coordinator::Stub* stub, uint64_t id, const std::string& token,
                     int* chunks, std::string* bytes = nullptr, uint32_t max_chunk = 0,
                     size_t* largest = nullptr) {
  v1::PullModelRequest req;
  req.set_client_id(id);
  req.set_session_token(token);
  req.set_max_chunk_bytes(max_chunk);
  grpc::ClientContext ctx;
  ctx.set_deadline(In(20));
  auto reader = stub->PullModel(&ctx, req);
  v1::ModelChunk msg;
  *chunks = 0;
  while (reader->Read(&msg)) {
    ++*chunks;
    if (bytes) bytes->append(msg.chunk().data());
    if (largest) *largest = std::max(*largest, msg.chunk().data().size());
  }
  return reader->Finish();
}

TEST_F(ServiceSecurityTest, PullModelNeedsARegisteredClientAndItsToken) {
  Start();
  int chunks = -1;
  // A never-registered id with an empty token.
  grpc::Status s = PullAll(stub_.get(), 777, "", &chunks);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("unknown client"), std::string::npos) << s.error_message();
  EXPECT_EQ(chunks, 0);

  // A real client's id with an empty or a forged token.
  const Session alice = Register("alice");
  for (const std::string& token : {std::string(), alice.token + "x"}) {
    s = PullAll(stub_.get(), alice.id, token, &chunks);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("bad session token"), std::string::npos) << s.error_message();
    EXPECT_EQ(chunks, 0);
  }

  // The session itself downloads the model.
  std::string bytes;
  s = PullAll(stub_.get(), alice.id, alice.token, &chunks, &bytes);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(bytes == before_bytes_);

  // After Leave the token no longer opens anything.
  {
    v1::LeaveRequest req;
    req.set_client_id(alice.id);
    req.set_session_token(alice.token);
    v1::LeaveResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Leave(&ctx, req, &resp).ok());
  }
  s = PullAll(stub_.get(), alice.id, alice.token, &chunks);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("has left"), std::string::npos) << s.error_message();
  EXPECT_EQ(chunks, 0);
  ExpectModelUnchanged();
}

TEST_F(ServiceSecurityTest, StalledPullsHoldNoThreads) {
  Start();
  const Session alice = Register("alice");
  const int threads_before = ThreadCount();
  // 100 pulls that are started and never read: the 6.4 MB model cannot
  // leave the server past the flow-control window.
  constexpr int kPulls = 100;
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientAsyncReader<v1::ModelChunk>>> readers;
  v1::PullModelRequest req;
  req.set_client_id(alice.id);
  req.set_session_token(alice.token);
  for (int i = 0; i < kPulls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub_->AsyncPullModel(contexts.back().get(), req, &cq,
                                            reinterpret_cast<void*>(intptr_t{1})));
  }
  void* tag = nullptr;
  bool ok = false;
  for (int started = 0; started < kPulls;) {
    ASSERT_EQ(cq.AsyncNext(&tag, &ok, In(10)), grpc::CompletionQueue::GOT_EVENT);
    ++started;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let every handler stall
  const int threads_stalled = ThreadCount();

  // The service still answers promptly.
  {
    v1::CheckInRequest ci;
    ci.set_client_id(alice.id);
    ci.set_session_token(alice.token);
    ci.set_intended_local_steps(3);
    v1::CheckInResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5));
    const grpc::Status s = stub_->CheckIn(&ctx, ci, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_LT(threads_stalled - threads_before, 30)
      << kPulls << " stalled pulls grew the process from " << threads_before << " to "
      << threads_stalled << " threads";

  for (auto& c : contexts) c->TryCancel();
  std::vector<grpc::Status> statuses(kPulls);
  for (int i = 0; i < kPulls; ++i) {
    readers[i]->Finish(&statuses[i], reinterpret_cast<void*>(intptr_t{2}));
  }
  for (int finished = 0; finished < kPulls;) {
    ASSERT_EQ(cq.AsyncNext(&tag, &ok, In(10)), grpc::CompletionQueue::GOT_EVENT);
    if (tag == reinterpret_cast<void*>(intptr_t{2})) ++finished;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  ExpectModelUnchanged();
}

// The header's session is checked before a chunk is read: a forged token or
// an unknown id is answered at once, while the client is still sending.
TEST_F(ServiceSecurityTest, PushIsAuthenticatedAtTheHeader) {
  Start();
  const Session alice = Register("alice");
  CheckInToTrain(alice);
  const std::string payload = Payload(0.25f);
  struct Case {
    Session who;
    v1::RejectReason want;
    const char* words;
  };
  for (const Case& c : {Case{{alice.id, alice.token + "forged"}, v1::REJECT_REASON_BAD_TOKEN,
                             "bad session token"},
                        Case{{alice.id, ""}, v1::REJECT_REASON_BAD_TOKEN, "bad session token"},
                        Case{{4242, alice.token}, v1::REJECT_REASON_UNKNOWN_CLIENT,
                             "unknown client"}}) {
    v1::PushUpdateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5));
    auto w = stub_->PushUpdate(&ctx, &resp);
    ASSERT_TRUE(w->Write(Header(c.who, payload)));
    // No chunk, no half-close: the answer must not wait for them.
    const auto t0 = Clock::now();
    const grpc::Status s = w->Finish();
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
    EXPECT_FALSE(resp.accepted());
    EXPECT_EQ(resp.reject_reason(), c.want);
    EXPECT_NE(resp.message().find(c.words), std::string::npos) << resp.message();
  }
  EXPECT_EQ(service_->push_budget().bytes_in_flight(), 0u);
  EXPECT_EQ(service_->push_budget().streams_in_flight(), 0u);
  ExpectModelUnchanged();
  // The real session's check-in was not consumed by the forgeries.
  const PushResult ok = Push(alice, payload);
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_TRUE(ok.response.accepted()) << ok.response.message();
}

// A header announcing more than max_update_bytes is refused before anything
// is reserved or read, also without a half-close.
TEST_F(ServiceSecurityTest, OversizedHeaderIsRefusedBeforeReservingIt) {
  Start();
  const Session alice = Register("alice");
  CheckInToTrain(alice);
  v1::PushUpdateMessage m = Header(alice, Payload(0.25f));
  m.mutable_header()->set_total_bytes(uint64_t{1} << 40);
  v1::PushUpdateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(In(5));
  auto w = stub_->PushUpdate(&ctx, &resp);
  ASSERT_TRUE(w->Write(m));
  const grpc::Status s = w->Finish();
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(resp.reject_reason(), v1::REJECT_REASON_TOO_LARGE);
  EXPECT_NE(resp.message().find("over the limit"), std::string::npos) << resp.message();
  EXPECT_EQ(service_->push_budget().bytes_in_flight(), 0u);
  ExpectModelUnchanged();
}

// max_inflight_pushes bounds open authenticated pushes: one more is answered
// UNAVAILABLE before its chunks are read; a finished push frees its slot.
TEST_F(ServiceSecurityTest, InflightPushesAreBounded) {
  Start({.max_inflight_pushes = 1});
  const Session alice = Register("alice"), bob = Register("bob");
  CheckInToTrain(alice);
  CheckInToTrain(bob);
  const std::string a_payload = Payload(0.25f), b_payload = Payload(0.5f);

  grpc::ClientContext a_ctx;
  a_ctx.set_deadline(In(20));
  v1::PushUpdateResponse a_resp;
  auto a = stub_->PushUpdate(&a_ctx, &a_resp);
  ASSERT_TRUE(a->Write(Header(alice, a_payload)));
  ASSERT_TRUE(Eventually([&] { return service_->push_budget().streams_in_flight() == 1; }));
  EXPECT_EQ(service_->push_budget().bytes_in_flight(), a_payload.size());

  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5));
    v1::PushUpdateResponse resp;
    auto b = stub_->PushUpdate(&ctx, &resp);
    ASSERT_TRUE(b->Write(Header(bob, b_payload)));
    const grpc::Status s = b->Finish();  // answered without a half-close
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_NE(s.error_message().find("busy, retry"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(service_->push_budget().streams_in_flight(), 1u);
  ExpectModelUnchanged();

  ASSERT_TRUE(WriteChunks(a.get(), a_payload));
  a->WritesDone();
  ASSERT_TRUE(a->Finish().ok());
  EXPECT_TRUE(a_resp.accepted()) << a_resp.message();
  ASSERT_TRUE(Eventually([&] { return service_->push_budget().streams_in_flight() == 0; }));
  EXPECT_EQ(service_->push_budget().bytes_in_flight(), 0u);

  // Bob's refused push left his check-in open: the retry goes through.
  const PushResult retry = Push(bob, b_payload);
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(retry.response.accepted()) << retry.response.message();
}

// max_inflight_bytes bounds the payload bytes reserved by open pushes; a
// cancelled push gives its reservation back.
TEST_F(ServiceSecurityTest, InflightBytesAreBoundedAndReleasedOnCancel) {
  const std::string payload = Payload(0.25f);
  Start({.max_inflight_bytes = payload.size() * 3 / 2});
  const Session alice = Register("alice"), bob = Register("bob");
  CheckInToTrain(alice);
  CheckInToTrain(bob);

  auto a_ctx = std::make_unique<grpc::ClientContext>();
  v1::PushUpdateResponse a_resp;
  auto a = stub_->PushUpdate(a_ctx.get(), &a_resp);
  ASSERT_TRUE(a->Write(Header(alice, payload)));
  ASSERT_TRUE(Eventually([&] { return service_->push_budget().streams_in_flight() == 1; }));

  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(5));
    v1::PushUpdateResponse resp;
    auto b = stub_->PushUpdate(&ctx, &resp);
    ASSERT_TRUE(b->Write(Header(bob, payload)));
    const grpc::Status s = b->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_NE(s.error_message().find("busy, retry"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(service_->push_budget().bytes_in_flight(), payload.size());

  a_ctx->TryCancel();
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(Eventually([&] { return service_->push_budget().bytes_in_flight() == 0; }));
  EXPECT_EQ(service_->push_budget().streams_in_flight(), 0u);
  ExpectModelUnchanged();

  const PushResult retry = Push(bob, payload);
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(retry.response.accepted()) << retry.response.message();
}

// Header and every chunk arrive, then the client cancels instead of
// half-closing: the update was never completed, so nothing is submitted.
TEST_F(ServiceSecurityTest, CancelledPushSubmitsNothing) {
  Start();
  const Session alice = Register("alice");
  CheckInToTrain(alice);
  const std::string payload = Payload(0.25f);
  {
    grpc::ClientContext ctx;
    v1::PushUpdateResponse resp;
    auto w = stub_->PushUpdate(&ctx, &resp);
    ASSERT_TRUE(w->Write(Header(alice, payload)));
    ASSERT_TRUE(WriteChunks(w.get(), payload));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // every chunk is there
    ctx.TryCancel();
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ExpectModelUnchanged();
  EXPECT_EQ(engine_->Stats().accepted_updates, 0u);

  // The check-in is still open: the completed push goes through.
  const PushResult ok = Push(alice, payload);
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_TRUE(ok.response.accepted()) << ok.response.message();
  EXPECT_EQ(engine_->version(), before_version_ + 1);
}

// A client asking for 4 MiB chunks, on a channel with gRPC's default 4 MiB
// receive limit, gets the whole (6.4 MB) model: chunks are capped below it.
TEST_F(ServiceSecurityTest, FourMiBChunkRequestFitsADefaultClient) {
  Start();
  const Session alice = Register("alice");
  int chunks = 0;
  std::string bytes;
  size_t largest = 0;
  const grpc::Status s =
      PullAll(stub_.get(), alice.id, alice.token, &chunks, &bytes, 4u << 20, &largest);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_GT(bytes.size(), 4u << 20);
  EXPECT_TRUE(bytes == before_bytes_);
  EXPECT_LE(largest, server::ServiceOptions{}.max_chunk_bytes);
  EXPECT_LT(largest, 4u << 20);
  EXPECT_GE(chunks, 2);
}

// Anyone could take over a client by registering its name: the name is now
// bound to the enrollment secret of its first registration. Another secret
// (or none) is PERMISSION_DENIED, and the real client's session still pushes.
TEST_F(ServiceSecurityTest, RegisteringAnotherClientsNameIsRefused) {
  Start();
  const Session alice = Register("alice");
  for (const std::string& secret : {std::string("not-alices-secret-at-all"), std::string()}) {
    v1::RegisterResponse resp;
    const grpc::Status s = TryRegister("alice", secret, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("client name 'alice' is bound to another credential"),
              std::string::npos)
        << s.error_message();
    EXPECT_EQ(resp.client_id(), 0u);
    EXPECT_TRUE(resp.session_token().empty());
  }
  {
    v1::RegisterResponse resp;
    const grpc::Status s = TryRegister("alice", "short", &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("enrollment secret"), std::string::npos) << s.error_message();
  }
  {
    v1::RegisterResponse resp;
    const grpc::Status s = TryRegister("mallory", "", &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  }
  // The original session is intact: it checks in and its update is accepted.
  CheckInToTrain(alice);
  const std::string payload = Payload(0.01f);
  const PushResult r = Push(alice, payload);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.response.accepted()) << r.response.message();
  EXPECT_EQ(engine_->version(), before_version_ + 1);
  // With its own secret the client registers again: the same id.
  v1::RegisterResponse again;
  ASSERT_TRUE(TryRegister("alice", "enrollment-secret-alice", &again).ok());
  EXPECT_EQ(again.client_id(), alice.id);
  EXPECT_NE(again.session_token(), alice.token);
}

}  // namespace
}  // namespace murmur
