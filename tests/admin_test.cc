// murmur.v1.Admin over loopback gRPC: a RoundEngine on a SQLite store with
// the Coordinator and Admin services on one server; updates go in through
// the engine (and one registration through the Coordinator service), and
// every Admin answer is checked against the engine and the store.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "murmur/v1/admin.grpc.pb.h"
#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/engine/round_engine.h"
#include "server/service/admin_service.h"
#include "server/service/coordinator_service.h"
#include "server/service/loopback_address.h"
#include "server/store/sqlite_store.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server {
namespace {

constexpr uint32_t kChunk = 64;  // small, so exports span several chunks

TensorList Initial() { return {{"w", {2}, {1.0f, 2.0f}}, {"b", {1}, {0.5f}}}; }

std::string Delta(float w0, float w1, float b) {
  return *EncodeTensors({{"w", {2}, {w0, w1}}, {"b", {1}, {b}}});
}

bool SameBits(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape ||
        std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(
        {.dir = dir_.path(), .synchronous_full = false, .keep_checkpoints = 2});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    EngineConfig cfg{.updates_per_round = 2,
                     .strategy = {.name = "fedavg_participants", .sample_weighted = true}};
    auto e = RoundEngine::Create(cfg, Initial(), SystemClock::Default(), &rng_, store_.get());
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    coordinator_ = std::make_unique<CoordinatorService>(engine_.get());
    admin_ = std::make_unique<AdminService>(engine_.get(), store_.get(),
                                            AdminServiceOptions{.chunk_bytes = kChunk});
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(coordinator_.get());
    b.RegisterService(admin_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr && port != 0);
    auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", port),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::Admin::NewStub(channel);
    coordinator_stub_ = v1::Coordinator::NewStub(channel);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    engine_.reset();
  }

  Registration Reg(const std::string& name, uint64_t samples) {
    auto r = engine_->Register(name, {.device = "cpu", .memory_bytes = 1 << 20,
                                      .num_samples = samples, .max_local_steps = 8},
                               "secret-" + name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  UpdateOutcome Push(const Registration& r, uint64_t base, const std::string& payload,
                     uint64_t samples, uint32_t k = 2) {
    EXPECT_EQ(engine_->CheckIn(r.client_id, r.token, k)->kind, CheckInDecision::Kind::kTrain);
    UpdateMeta m{.client_id = r.client_id, .token = r.token, .base_version = base,
                 .local_steps = k, .num_samples = samples, .mean_loss = 0.5 + 0.1 * base};
    return engine_->SubmitUpdate(m, payload);
  }

  // Three clients (one registered over gRPC), three rounds, a stale
  // rejection and a recorded metric.
  void RunSomeRounds() {
    v1::RegisterRequest rreq;
    rreq.set_client_name("remote");
    rreq.set_enrollment_secret("enrollment-secret-remote");
    rreq.mutable_capabilities()->set_num_samples(30);
    rreq.mutable_capabilities()->set_device("cuda:0");
    v1::RegisterResponse rresp;
    grpc::ClientContext rctx;
    ASSERT_TRUE(coordinator_stub_->Register(&rctx, rreq, &rresp).ok());
    c_ = {.client_id = rresp.client_id(), .token = rresp.session_token()};
    a_ = Reg("alpha", 10);
    b_ = Reg("beta", 20);
    ASSERT_TRUE(Push(a_, 1, Delta(1, 0, 0), 10).accepted);
    ASSERT_TRUE(Push(b_, 1, Delta(0, 1, 0), 20).accepted);  // round -> v2
    ASSERT_TRUE(Push(a_, 2, Delta(1, 1, 0), 10).accepted);
    ASSERT_TRUE(Push(c_, 2, Delta(0, 0, 1), 30).accepted);  // round -> v3
    engine_->RecordMetrics(3, {{"test_accuracy", 0.75}});
    ASSERT_TRUE(Push(b_, 3, Delta(2, 0, 0), 20).accepted);
    ASSERT_TRUE(Push(a_, 3, Delta(0, 2, 0), 10).accepted);  // round -> v4
    // K out of the recipe's range: rejected and recorded.
    UpdateOutcome bad = Push(b_, 4, Delta(1, 1, 1), 20, /*k=*/1000);
    EXPECT_FALSE(bad.accepted);
    ASSERT_TRUE(engine_->Flush().ok());
    ASSERT_EQ(engine_->version(), 4u);
  }

  store::TestTempDir dir_;
  Rng rng_{7};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<RoundEngine> engine_;
  std::unique_ptr<CoordinatorService> coordinator_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_stub_;
  Registration a_, b_, c_;
};

TEST_F(AdminTest, StatusReportsTheEngineCounters) {
  RunSomeRounds();
  v1::StatusResponse r;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->Status(&ctx, {}, &r).ok());
  const EngineStats s = engine_->Stats();
  EXPECT_EQ(r.strategy(), "fedavg_participants");
  EXPECT_EQ(r.trigger(), "buffer_full");
  EXPECT_EQ(r.model_version(), 4u);
  EXPECT_EQ(r.registered_clients(), 3u);
  EXPECT_EQ(r.accepted_updates(), 6u);
  EXPECT_EQ(r.accepted_updates(), s.accepted_updates);
  EXPECT_EQ(r.rejected_updates(), s.rejected_updates);
  EXPECT_GE(r.rejected_updates(), 1u);
  EXPECT_EQ(r.buffered_updates(), 0u);
  EXPECT_GT(r.uptime_s(), 0.0);
  EXPECT_FALSE(r.finished());
}

TEST_F(AdminTest, ListClientsPagesAndMatchesTheStore) {
  RunSomeRounds();
  std::vector<v1::ClientInfo> seen;
  v1::ListClientsRequest req;
  req.set_page_size(2);
  int pages = 0;
  while (true) {
    v1::ListClientsResponse r;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ListClients(&ctx, req, &r).ok());
    ++pages;
    for (const auto& c : r.clients()) seen.push_back(c);
    if (r.next_after_client_id() == 0) break;
    req.set_after_client_id(r.next_after_client_id());
  }
  EXPECT_EQ(pages, 2);
  const auto records = *store_->ListClients(0, 0);
  ASSERT_EQ(seen.size(), records.size());
  ASSERT_EQ(seen.size(), 3u);
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& info = seen[i];
    const auto& rec = records[i];
    EXPECT_EQ(info.client_id(), rec.client_id);
    EXPECT_EQ(info.client_name(), rec.name);
    EXPECT_EQ(info.capabilities().device(), rec.device);
    EXPECT_EQ(info.capabilities().num_samples(), rec.num_samples);
    EXPECT_EQ(info.registered_at_s(), rec.registered_at_s);
    EXPECT_EQ(info.last_seen_s(), rec.last_seen_s);
    EXPECT_EQ(info.left(), rec.left);
    const auto stats = *store_->ParticipationStats(rec.client_id);
    EXPECT_EQ(info.participations(), stats.accepted);
    EXPECT_EQ(info.rejections(), stats.rejected);
    EXPECT_DOUBLE_EQ(info.participation_rate(), stats.participation_rate);
    // The weight of the most recent weighted update, as the history says.
    const auto history = *store_->ClientHistory(rec.client_id, 0);
    double last_weight = 0;
    for (const auto& p : history) {
      if (p.accepted && p.weight) {
        last_weight = *p.weight;
        break;
      }
    }
    EXPECT_DOUBLE_EQ(info.fedau_weight(), last_weight) << rec.name;
  }
  EXPECT_EQ(seen[0].client_name(), "remote");
  EXPECT_EQ(seen[0].capabilities().device(), "cuda:0");
  EXPECT_EQ(seen[1].participations(), 3u);  // alpha
  EXPECT_EQ(seen[2].rejections(), 1u);      // beta's K = 1000
  // alpha's last round (v4) had alpha (10 samples) and beta (20): weight 1/3.
  EXPECT_NEAR(seen[1].fedau_weight(), 1.0 / 3, 1e-12);
}

TEST_F(AdminTest, ClientHistoryIsTheStoredHistoryMostRecentFirst) {
  RunSomeRounds();
  v1::ClientHistoryRequest req;
  req.set_client_id(b_.client_id);
  v1::ClientHistoryResponse r;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ClientHistory(&ctx, req, &r).ok());
  const auto stored = *store_->ClientHistory(b_.client_id, 0);
  ASSERT_EQ(r.participations_size(), static_cast<int>(stored.size()));
  ASSERT_EQ(stored.size(), 3u);
  for (size_t i = 0; i < stored.size(); ++i) {
    const auto& p = r.participations(static_cast<int>(i));
    const auto& s = stored[i];
    EXPECT_EQ(p.client_id(), s.client_id);
    EXPECT_EQ(p.base_version(), s.base_version);
    EXPECT_EQ(p.round_version(), s.round_version);
    EXPECT_EQ(p.local_steps(), s.local_steps);
    EXPECT_EQ(p.num_samples(), s.num_samples);
    EXPECT_DOUBLE_EQ(p.mean_loss(), s.mean_loss);
    EXPECT_EQ(p.staleness(), s.staleness);
    EXPECT_DOUBLE_EQ(p.weight(), s.weight.value_or(0));
    EXPECT_EQ(p.accepted(), s.accepted);
    EXPECT_EQ(static_cast<int>(p.reject_reason()), s.reject_reason);
    EXPECT_EQ(p.message(), s.message);
    EXPECT_DOUBLE_EQ(p.received_at_s(), s.received_at_s);
  }
  // Most recent first: the rejected K = 1000.
  EXPECT_FALSE(r.participations(0).accepted());
  EXPECT_EQ(r.participations(0).reject_reason(), v1::REJECT_REASON_LOCAL_STEPS_OUT_OF_RANGE);
  EXPECT_EQ(r.participations(0).round_version(), 0u);
  EXPECT_EQ(r.participations(1).round_version(), 4u);
  EXPECT_NEAR(r.participations(1).weight(), 2.0 / 3, 1e-12);
  // A limit, and an unknown client.
  req.set_limit(1);
  v1::ClientHistoryResponse one;
  grpc::ClientContext ctx1;
  ASSERT_TRUE(stub_->ClientHistory(&ctx1, req, &one).ok());
  EXPECT_EQ(one.participations_size(), 1);
  req.set_client_id(999);
  v1::ClientHistoryResponse none;
  grpc::ClientContext ctx2;
  grpc::Status s = stub_->ClientHistory(&ctx2, req, &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_F(AdminTest, ListRoundsMatchesTheStoreWithMetrics) {
  RunSomeRounds();
  v1::ListRoundsRequest req;
  req.set_from_version(3);
  v1::ListRoundsResponse r;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListRounds(&ctx, req, &r).ok());
  const auto stored = *store_->ListRounds(3, 0);
  ASSERT_EQ(r.rounds_size(), 2);
  ASSERT_EQ(stored.size(), 2u);
  for (size_t i = 0; i < stored.size(); ++i) {
    const auto& round = r.rounds(static_cast<int>(i));
    EXPECT_EQ(round.version(), stored[i].version);
    EXPECT_EQ(round.trigger(), stored[i].trigger);
    EXPECT_EQ(round.num_updates(), stored[i].num_updates);
    EXPECT_DOUBLE_EQ(round.update_norm(), stored[i].update_norm);
    EXPECT_DOUBLE_EQ(round.closed_at_s(), stored[i].closed_at_s);
    EXPECT_DOUBLE_EQ(round.metrics().at("mean_client_loss"), stored[i].mean_client_loss);
  }
  EXPECT_EQ(r.rounds(0).trigger(), "buffer_full");
  EXPECT_DOUBLE_EQ(r.rounds(0).metrics().at("test_accuracy"), 0.75);
  req.set_from_version(0);
  req.set_limit(1);
  v1::ListRoundsResponse first;
  grpc::ClientContext ctx1;
  ASSERT_TRUE(stub_->ListRounds(&ctx1, req, &first).ok());
  ASSERT_EQ(first.rounds_size(), 1);
  EXPECT_EQ(first.rounds(0).version(), 2u);
}

// Reads a whole ExportModel stream; checks offsets, totals and the checksum.
struct Exported {
  grpc::Status status;
  uint64_t version = 0;
  std::string bytes;
  size_t chunks = 0;
  size_t largest_chunk = 0;
};
Exported Export(v1::Admin::Stub* stub, uint64_t version, v1::Encoding encoding,
                uint64_t offset = 0) {
  Exported out;
  v1::ExportModelRequest req;
  req.set_model_version(version);
  req.set_encoding(encoding);
  req.set_offset(offset);
  grpc::ClientContext ctx;
  auto reader = stub->ExportModel(&ctx, req);
  v1::ModelChunk c;
  uint64_t checksum = 0, total = 0;
  while (reader->Read(&c)) {
    EXPECT_EQ(c.chunk().offset(), offset + out.bytes.size());
    if (out.chunks++ == 0) {
      out.version = c.model_version();
      checksum = c.chunk().checksum().value();
      total = c.chunk().total_bytes();
    }
    out.largest_chunk = std::max(out.largest_chunk, c.chunk().data().size());
    out.bytes += c.chunk().data();
  }
  out.status = reader->Finish();
  if (out.status.ok() && offset == 0) {
    EXPECT_EQ(out.bytes.size(), total);
    EXPECT_EQ(Xxh3(out.bytes), checksum);
  }
  return out;
}

TEST_F(AdminTest, ExportModelStreamsStoredVersionsInChunks) {
  RunSomeRounds();
  Exported latest = Export(stub_.get(), 0, v1::ENCODING_UNSPECIFIED);
  ASSERT_TRUE(latest.status.ok()) << latest.status.error_message();
  EXPECT_EQ(latest.version, 4u);
  EXPECT_GT(latest.chunks, 1u);
  EXPECT_LE(latest.largest_chunk, kChunk);
  EXPECT_TRUE(SameBits(*DecodeTensors(latest.bytes), engine_->GlobalModel()));
  EXPECT_TRUE(SameBits(*DecodeTensors(latest.bytes), *store_->LoadCheckpoint(4)));
  // An older version still kept (keep_checkpoints = 2), in fp16.
  Exported v3 = Export(stub_.get(), 3, v1::ENCODING_FP16);
  ASSERT_TRUE(v3.status.ok()) << v3.status.error_message();
  EXPECT_EQ(v3.version, 3u);
  EXPECT_EQ(v3.bytes, *EncodeTensors(*store_->LoadCheckpoint(3), {.encoding = Encoding::kFp16}));
  // Resuming from an offset gives the rest of the same bytes.
  Exported rest = Export(stub_.get(), 4, v1::ENCODING_FP32, 10);
  ASSERT_TRUE(rest.status.ok());
  EXPECT_EQ(rest.bytes, latest.bytes.substr(10));
  // A pruned version, a version never made, an offset past the end.
  Exported pruned = Export(stub_.get(), 2, v1::ENCODING_FP32);
  EXPECT_EQ(pruned.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(pruned.status.error_message().find("pruned"), std::string::npos);
  EXPECT_EQ(Export(stub_.get(), 99, v1::ENCODING_FP32).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Export(stub_.get(), 4, v1::ENCODING_FP32, 1 << 20).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Export(stub_.get(), 4, static_cast<v1::Encoding>(42)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A model over 4 MiB with the default options: every chunk fits a client
// with gRPC's default 4 MiB receive limit.
TEST(AdminLargeModelTest, ChunksStayBelowTheDefaultReceiveLimit) {
  store::TestTempDir dir;
  auto store = *store::SqliteStore::Open({.dir = dir.path(), .synchronous_full = false});
  TensorList big = {{"w", {1500000}, std::vector<float>(1500000, 0.25f)}};
  Rng rng(1);
  auto engine = *RoundEngine::Create({}, big, SystemClock::Default(), &rng, store.get());
  AdminService admin(engine.get(), store.get());
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&admin);
  auto server = b.BuildAndStart();
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(fmt::format("127.0.0.1:{}", port),
                                                     grpc::InsecureChannelCredentials()));
  Exported e = Export(stub.get(), 0, v1::ENCODING_FP32);
  ASSERT_TRUE(e.status.ok()) << e.status.error_message();
  EXPECT_GT(e.bytes.size(), size_t{4} << 20);
  EXPECT_LE(e.largest_chunk, kMaxAdminChunkBytes);
  EXPECT_TRUE(SameBits(*DecodeTensors(e.bytes), big));
  server->Shutdown();
}

TEST(AdminStatusTest, TriggersNameEveryEnabledOne) {
  EXPECT_EQ(EnabledTriggers({.updates_per_round = 4}), "buffer_full");
  EXPECT_EQ(EnabledTriggers({.updates_per_round = 0, .round_deadline_s = 5}), "deadline");
  EXPECT_EQ(EnabledTriggers({.mode = RoundMode::kSync, .updates_per_round = 0,
                             .round_deadline_s = 5}),
            "deadline+all_reported");
}

TEST(LoopbackAddressTest, OnlyLoopbackAndLocalSocketsPass) {
  for (const char* ok : {"127.0.0.1:7071", "127.1.2.3:1", "localhost:80", "[::1]:7071",
                         "ipv4:127.0.0.1:5", "ipv6:[::1]:5", "unix:/tmp/admin.sock",
                         "unix-abstract:murmur"}) {
    EXPECT_TRUE(IsLoopbackAddress(ok)) << ok;
  }
  for (const char* bad : {"0.0.0.0:7071", "[::]:7071", "10.0.0.1:7071", "example.com:7071",
                          "127.0.0.1", "localhost", "[::1]", "", ":7071", "128.0.0.1:1",
                          "[::ffff:10.0.0.1]:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(bad)) << bad;
  }
}

}  // namespace
}  // namespace murmur::server
