// End to end over loopback gRPC: CoordinatorService + GrpcCoordinator.
// Models larger than gRPC's 4 MB default message limit, small chunks,
// resumed downloads and every way a pushed update can be broken.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/transport/grpc_coordinator.h"
#include "common/checksum.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"

namespace murmur {
namespace {

// 1.6M parameters: 6.4 MB in fp32, over the 4 MB default message size.
const ModelSpec kSpec = {{"big.weight", {1600, 1000}}, {"big.bias", {1000}}};

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng init(3);
    initial_ = RandomNormal(kSpec, init, 0.1);
    auto engine = server::RoundEngine::Create(
        server::EngineConfig{.updates_per_round = 1, .max_update_bytes = 16 << 20}, initial_,
        &clock_, &rng_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    service_ = std::make_unique<server::CoordinatorService>(engine_.get());
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(port_, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<client::GrpcCoordinator> Connect(const std::string& name,
                                                   client::GrpcCoordinatorOptions o = {}) {
    auto c = std::make_unique<client::GrpcCoordinator>(channel_, o);
    EXPECT_TRUE(c->Register(name, {.device = "cpu"}, "enrollment-secret-" + name).ok());
    return c;
  }

  // A session registered through a raw stub, for hand-made requests (every
  // call needs the client's id and session token).
  struct RawSession {
    uint64_t id = 0;
    std::string token;
  };
  RawSession RegisterRaw(const std::string& name) {
    auto stub = v1::Coordinator::NewStub(channel_);
    v1::RegisterRequest req;
    req.set_client_name(name);
    req.set_enrollment_secret("enrollment-secret-" + name);
    v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub->Register(&ctx, req, &resp).ok());
    return {resp.client_id(), resp.session_token()};
  }

  api::UpdateToPush MakeUpdate(uint64_t base, float value) {
    TensorList delta = ZerosLike(kSpec);
    for (Tensor& t : delta) std::fill(t.data.begin(), t.data.end(), value);
    api::UpdateToPush u;
    u.base_version = base;
    u.local_steps = 3;
    u.num_samples = 48;
    u.payload = *EncodeTensors(delta);
    return u;
  }

  ManualClock clock_;
  Rng rng_{5};
  TensorList initial_;
  std::unique_ptr<server::RoundEngine> engine_;
  std::unique_ptr<server::CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

TEST_F(LoopbackTest, PullsALargeModelInChunksAndVerifiesIt) {
  auto c = Connect("a", {.chunk_bytes = 256 * 1024});
  auto check = c->CheckIn(3, 0);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  ASSERT_EQ(check->kind, api::CheckInDecision::Kind::kTrain);
  EXPECT_EQ(check->local_steps, 3u);
  auto pulled = c->PullModel(check->model_version);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_GT(pulled->bytes.size(), 4u << 20);
  auto model = DecodeTensors(pulled->bytes, {.expected = &kSpec});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)[0].data, initial_[0].data);
}

TEST_F(LoopbackTest, PullResumesFromAnOffset) {
  auto c = Connect("a");
  ASSERT_TRUE(c->CheckIn(1, 0).ok());
  auto full = *c->PullModel(1);
  // A raw request for the tail, as the client sends after a broken stream.
  auto stub = v1::Coordinator::NewStub(channel_);
  const RawSession raw = RegisterRaw("raw");
  v1::PullModelRequest req;
  req.set_client_id(raw.id);
  req.set_session_token(raw.token);
  req.set_model_version(1);
  req.set_offset(full.bytes.size() - 1000);
  req.set_max_chunk_bytes(300);
  grpc::ClientContext ctx;
  auto reader = stub->PullModel(&ctx, req);
  v1::ModelChunk msg;
  std::string tail;
  int chunks = 0;
  while (reader->Read(&msg)) {
    EXPECT_EQ(msg.chunk().offset(), full.bytes.size() - 1000 + tail.size());
    EXPECT_EQ(msg.chunk().checksum().value(), Xxh3(full.bytes));
    tail += msg.chunk().data();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chunks, 4);
  EXPECT_EQ(tail, full.bytes.substr(full.bytes.size() - 1000));

  req.set_offset(full.bytes.size() + 1);
  grpc::ClientContext ctx2;
  auto bad = stub->PullModel(&ctx2, req);
  while (bad->Read(&msg)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(LoopbackTest, PushedUpdateGoesIntoTheNextVersion) {
  auto c = Connect("a", {.chunk_bytes = 512 * 1024});
  ASSERT_TRUE(c->CheckIn(3, 0).ok());
  auto resp = c->PushUpdate(MakeUpdate(1, 0.25f));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_TRUE(resp->accepted) << resp->message;
  EXPECT_EQ(resp->round_version, 2u);
  EXPECT_EQ(engine_->version(), 2u);
  EXPECT_FLOAT_EQ(engine_->GlobalModel()[1].data[7], initial_[1].data[7] + 0.25f);
  ASSERT_TRUE(c->CheckIn(3, 2).ok());
  auto pulled = c->PullModel(0);
  ASSERT_TRUE(pulled.ok());
  EXPECT_EQ(pulled->version, 2u);
}

TEST_F(LoopbackTest, BrokenPushesAreRejectedAndLoseNothing) {
  auto c = Connect("a");
  const TensorList before = engine_->GlobalModel();
  auto stub = v1::Coordinator::NewStub(channel_);
  const RawSession raw = RegisterRaw("raw");  // for the hand-made streams
  api::UpdateToPush good = MakeUpdate(1, 1.0f);

  // Checksum that does not match the payload.
  ASSERT_TRUE(c->CheckIn(3, 0).ok());
  api::UpdateToPush corrupt = good;
  corrupt.payload[1000] ^= 1;  // client computes the checksum over what it sends...
  auto r = c->PushUpdate(corrupt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->accepted);
  EXPECT_EQ(r->reason, api::RejectReason::kMalformed);  // ...so the codec's catches it

  // A header announcing more bytes than arrive.
  ASSERT_TRUE(c->CheckIn(3, 0).ok());
  {
    grpc::ClientContext ctx;
    v1::PushUpdateResponse resp;
    auto w = stub->PushUpdate(&ctx, &resp);
    v1::PushUpdateMessage m;
    auto* h = m.mutable_header();
    h->set_client_id(raw.id);
    h->set_session_token(raw.token);
    h->set_total_bytes(good.payload.size());
    h->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
    h->mutable_checksum()->set_value(Xxh3(good.payload));
    ASSERT_TRUE(w->Write(m));
    v1::PushUpdateMessage chunk;
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data(good.payload.substr(0, 1000));
    ASSERT_TRUE(w->Write(chunk));
    w->WritesDone();
    ASSERT_TRUE(w->Finish().ok());
    EXPECT_FALSE(resp.accepted());
    EXPECT_NE(resp.message().find("stream ended after 1000"), std::string::npos) << resp.message();
  }
  // Out-of-order chunk offsets.
  {
    grpc::ClientContext ctx;
    v1::PushUpdateResponse resp;
    auto w = stub->PushUpdate(&ctx, &resp);
    v1::PushUpdateMessage m;
    m.mutable_header()->set_client_id(raw.id);
    m.mutable_header()->set_session_token(raw.token);
    m.mutable_header()->set_total_bytes(good.payload.size());
    ASSERT_TRUE(w->Write(m));
    v1::PushUpdateMessage chunk;
    chunk.mutable_chunk()->set_offset(5);
    chunk.mutable_chunk()->set_data("abc");
    ASSERT_TRUE(w->Write(chunk));
    w->WritesDone();
    ASSERT_TRUE(w->Finish().ok());
    EXPECT_FALSE(resp.accepted());
    EXPECT_NE(resp.message().find("offset 5"), std::string::npos) << resp.message();
  }
  // Over the size limit: refused without buffering.
  {
    grpc::ClientContext ctx;
    v1::PushUpdateResponse resp;
    auto w = stub->PushUpdate(&ctx, &resp);
    v1::PushUpdateMessage m;
    m.mutable_header()->set_client_id(raw.id);
    m.mutable_header()->set_session_token(raw.token);
    m.mutable_header()->set_total_bytes(uint64_t{1} << 40);
    ASSERT_TRUE(w->Write(m));
    w->WritesDone();
    ASSERT_TRUE(w->Finish().ok());
    EXPECT_EQ(resp.reject_reason(), v1::REJECT_REASON_TOO_LARGE);
  }
  // No header at all.
  {
    grpc::ClientContext ctx;
    v1::PushUpdateResponse resp;
    auto w = stub->PushUpdate(&ctx, &resp);
    v1::PushUpdateMessage chunk;
    chunk.mutable_chunk()->set_data("abc");
    w->Write(chunk);
    w->WritesDone();
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Wrong model shape.
  ASSERT_TRUE(c->CheckIn(3, 0).ok());
  api::UpdateToPush wrong = good;
  wrong.payload = *EncodeTensors({{"big.weight", {10}, std::vector<float>(10, 1.0f)}});
  r = c->PushUpdate(wrong);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reason, api::RejectReason::kShapeMismatch);

  TensorList after = engine_->GlobalModel();
  EXPECT_EQ(after[0].data, before[0].data);
  EXPECT_EQ(engine_->version(), 1u);

  // And a good one still goes through afterwards.
  ASSERT_TRUE(c->CheckIn(3, 0).ok());
  r = c->PushUpdate(good);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->accepted) << r->message;
}

TEST_F(LoopbackTest, UnknownClientGetsAClearStatus) {
  auto stub = v1::Coordinator::NewStub(channel_);
  v1::CheckInRequest req;
  req.set_client_id(999);
  v1::CheckInResponse resp;
  grpc::ClientContext ctx;
  const Status s = client::FromGrpcStatus(stub->CheckIn(&ctx, req, &resp));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("unknown client"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace murmur
