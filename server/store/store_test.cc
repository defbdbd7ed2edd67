#include "server/store/store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/codec/tensor_codec.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

const ModelSpec kSpec = {{"w", {3}}, {"b", {1}}};

TensorList Model(float base) {
  return {{"w", {3}, {base, base + 0.5f, -base}}, {"b", {1}, {base * 3}}};
}

bool SameBits(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape || a[i].data.size() != b[i].data.size())
      return false;
    if (std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0)
      return false;
  }
  return true;
}

ClientRecord Client(uint64_t id, double t = 1.0) {
  ClientRecord c;
  c.client_id = id;
  c.name = "client-" + std::to_string(id);
  c.token_sha256 = "digest" + std::to_string(id);
  c.device = "cpu";
  c.registered_at_s = t;
  c.registered_version = 1;
  c.last_seen_s = t;
  return c;
}

ParticipationRecord Accepted(uint64_t id, uint64_t client, uint64_t round, uint64_t base = 0) {
  ParticipationRecord p;
  p.id = id;
  p.client_id = client;
  p.base_version = base == 0 ? round - 1 : base;
  p.round_version = round;
  p.local_steps = 3;
  p.num_samples = 10;
  p.mean_loss = 0.5;
  p.staleness = round - 1 - p.base_version;
  p.accepted = true;
  p.message = "buffered";
  p.received_at_s = 2.0;
  p.recorded_at_s = 2.5;
  p.payload_checksum = 1000 + id;
  p.local_lr = 0.1;
  return p;
}

ParticipationRecord Rejected(uint64_t id, uint64_t client, int32_t reason) {
  ParticipationRecord p;
  p.id = id;
  p.client_id = client;
  p.base_version = 1;
  p.local_steps = 3;
  p.reject_reason = reason;
  p.message = "too stale: the limit is 0";
  return p;
}

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> OpenStore(StoreOptions o = {}) {
    o.dir = dir_.path();
    auto s = Store::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Accepted updates 1..n of `clients` into round `round`, with payloads.
  WriteBatch BufferUpdates(uint64_t first_id, uint64_t round, std::vector<uint64_t> clients) {
    WriteBatch b;
    for (size_t i = 0; i < clients.size(); ++i) {
      ParticipationRecord p = Accepted(first_id + i, clients[i], round);
      b.participations.push_back(p);
      b.buffered_payloads.emplace_back(p.id, *EncodeTensors(Model(static_cast<float>(p.id))));
    }
    return b;
  }

  TestTempDir dir_;
};

TEST_F(StoreTest, FreshStoreInitializesVersionOne) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  EXPECT_TRUE(*store->IsEmpty());
  EXPECT_EQ(store->Recover(kSpec, 0).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store->Initialize(Model(1), "fedau", 10.0).ok());
  EXPECT_FALSE(*store->IsEmpty());
  EXPECT_FALSE(store->Initialize(Model(1), "fedau", 10.0).ok());  // only once
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_TRUE(SameBits(rec->model, Model(1)));
  EXPECT_EQ(rec->strategy, "fedau");
  EXPECT_TRUE(rec->strategy_state.empty());
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_EQ(rec->next_participation_id, 1u);
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 10.0);
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
  EXPECT_EQ(*store->LatestVersion(), 1u);
}

TEST_F(StoreTest, BufferedUpdatesSurviveAndTheRoundCommitIsAtomic) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Initialize(Model(1), "afa_cd", 0).ok());
    WriteBatch b = BufferUpdates(1, 2, {1, 2});
    b.clients = {Client(1), Client(2)};
    b.participations.push_back(Rejected(3, 2, 3));
    ASSERT_TRUE(store->Write(b).ok());
  }
  TensorList next = Model(7);
  {
    auto store = OpenStore();
    auto rec = store->Recover(kSpec, 0);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->version, 1u);
    ASSERT_EQ(rec->clients.size(), 2u);
    EXPECT_EQ(rec->clients[1].token_sha256, "digest2");
    ASSERT_EQ(rec->buffer.size(), 2u);
    EXPECT_EQ(rec->buffer[0].record.id, 1u);
    EXPECT_EQ(rec->buffer[1].record.client_id, 2u);
    EXPECT_TRUE(SameBits(*DecodeTensors(rec->buffer[1].payload), Model(2)));
    EXPECT_EQ(rec->next_participation_id, 4u);
    EXPECT_EQ(rec->accepted_total, 2u);
    EXPECT_EQ(rec->rejected_total, 1u);
    ASSERT_EQ(rec->recent_accepted.size(), 2u);
    EXPECT_EQ(rec->recent_accepted[0].payload_checksum, 1001u);

    WriteBatch close = BufferUpdates(4, 2, {1});  // a third update arrives and closes it
    RoundCommit rc;
    rc.round = {.version = 2, .trigger = "buffer_full", .num_updates = 3, .update_norm = 1.5,
                .mean_client_loss = 0.5, .opened_at_s = 0, .closed_at_s = 3};
    rc.weights = {{1, 0.25}, {2, 0.25}, {4, 0.5}};
    rc.model = &next;
    rc.strategy = "afa_cd";
    rc.strategy_state = "STATE";
    close.round = rc;
    ASSERT_TRUE(store->Write(close).ok());
  }
  auto store = OpenStore();
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 2u);
  EXPECT_TRUE(SameBits(rec->model, next));
  EXPECT_EQ(rec->strategy_state, "STATE");
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 3.0);
  auto parts = *store->RoundParticipants(2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].id, 4u);
  EXPECT_DOUBLE_EQ(*parts[2].weight, 0.5);
  auto hist = *store->ClientHistory(2, 0);
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(hist[0].id, 3u);  // newest first
  EXPECT_FALSE(hist[0].accepted);
  EXPECT_EQ(hist[0].reject_reason, 3);
  EXPECT_EQ(hist[0].round_version, 0u);
  EXPECT_FALSE(hist[1].weight == std::nullopt);
  auto rounds = *store->ListRounds(0, 0);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].trigger, "buffer_full");
  EXPECT_EQ(rounds[0].num_updates, 3u);
  EXPECT_TRUE(SameBits(*store->LoadCheckpoint(0), next));
  EXPECT_TRUE(SameBits(*store->LoadCheckpoint(1), Model(1)));
  EXPECT_EQ(store->LoadCheckpoint(5).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
}

TEST_F(StoreTest, AFailedTransactionLeavesNothingBehind) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedavg_participants", 0).ok());
  TensorList next = Model(2);
  WriteBatch b = BufferUpdates(1, 2, {1});
  b.clients = {Client(1)};
  RoundCommit rc;
  rc.round = {.version = 2, .trigger = "deadline", .num_updates = 2};  // but only 1 recorded
  rc.weights = {{1, 1.0}};
  rc.model = &next;
  rc.strategy = "fedavg_participants";
  b.round = rc;
  Status s = store->Write(b);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("round 2 closes with 2 updates"), std::string::npos) << s.ToString();
  EXPECT_TRUE(store->ListClients(0, 0)->empty());
  EXPECT_TRUE(store->ListParticipations(0, 0)->empty());
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  // The orphan checkpoint file of the failed round was swept by Recover.
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(2)));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(1)));
}

TEST_F(StoreTest, CorruptOrMissingCheckpointNamesTheFile) {
  std::string path;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
    path = store->CheckpointPath(1);
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x7f');
  }
  auto store = OpenStore();
  Status s = store->Recover(kSpec, 0).status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("corrupt"), std::string::npos) << s.message();
  std::filesystem::remove(path);
  s = store->Recover(kSpec, 0).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST_F(StoreTest, WrongModelShapeIsRefused) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
  const ModelSpec other = {{"w", {4}}, {"b", {1}}};
  Status s = store->Recover(other, 0).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("checkpoints/v0000000001.mrmt"), std::string::npos) << s.message();
}

TEST_F(StoreTest, NotADatabaseOrMissingDatabaseNamesTheFile) {
  {
    std::ofstream f(dir_.Sub("murmur.db"));
    f << "this is not an SQLite database, just some text that is long enough to matter";
  }
  auto s = Store::Open({.dir = dir_.path()});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(dir_.Sub("murmur.db")), std::string::npos)
      << s.status().message();
  TestTempDir empty;
  auto m = Store::Open({.dir = empty.Sub("nowhere"), .create_if_missing = false});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find(empty.Sub("nowhere/murmur.db")), std::string::npos)
      << m.status().message();
}

TEST_F(StoreTest, ParticipationStatisticsPerClient) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(0), "fedau", 0).ok());
  ASSERT_TRUE(store->Write({.clients = {Client(1), Client(2)}}).ok());
  // Client 1 takes part in rounds 2, 4 and 5; client 2 in round 3 only.
  const std::vector<std::vector<uint64_t>> participants = {{1}, {2}, {1}, {1}};
  uint64_t id = 1;
  for (uint64_t v = 2; v <= 5; ++v) {
    WriteBatch b = BufferUpdates(id, v, participants[v - 2]);
    TensorList m = Model(static_cast<float>(v));
    RoundCommit rc;
    rc.round = {.version = v, .trigger = "deadline", .num_updates = 1, .closed_at_s = double(v)};
    rc.weights = {{id, 1.0}};
    rc.model = &m;
    rc.strategy = "fedau";
    b.round = rc;
    b.metrics = {{v, {{"test_loss", 1.0 / double(v)}}}};
    ASSERT_TRUE(store->Write(b).ok());
    ++id;
  }
  ASSERT_TRUE(store->Write({.participations = {Rejected(id, 1, 3)}}).ok());
  auto s1 = *store->ParticipationStats(1);
  EXPECT_EQ(s1.accepted, 3u);
  EXPECT_EQ(s1.rejected, 1u);
  EXPECT_EQ(s1.rounds_participated, 3u);
  EXPECT_EQ(s1.rounds_since_registration, 4u);
  EXPECT_DOUBLE_EQ(s1.participation_rate, 0.75);
  EXPECT_EQ(s1.intervals, 2u);
  EXPECT_DOUBLE_EQ(s1.mean_interval, 1.5);
  EXPECT_DOUBLE_EQ(s1.stddev_interval, 0.5);
  EXPECT_EQ(s1.min_interval, 1u);
  EXPECT_EQ(s1.max_interval, 2u);
  EXPECT_EQ(s1.last_round, 5u);
  auto all = *store->AllParticipationStats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].rounds_participated, 1u);
  EXPECT_EQ(all[1].intervals, 0u);
  EXPECT_EQ(store->ParticipationStats(9).status().code(), StatusCode::kNotFound);
  auto rounds = *store->ListRounds(3, 2);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].version, 3u);
  EXPECT_DOUBLE_EQ(rounds[1].metrics.at("test_loss"), 0.25);
}

TEST_F(StoreTest, KeepsOnlyTheNewestCheckpointFilesWhenAsked) {
  auto store = OpenStore({.keep_checkpoints = 2});
  ASSERT_TRUE(store->Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 4; ++v) {
    TensorList m = Model(static_cast<float>(v));
    RoundCommit rc;
    rc.round = {.version = v, .trigger = "deadline", .num_updates = 0};
    rc.model = &m;
    rc.strategy = "fedavg_participants";
    ASSERT_TRUE(store->Write({.round = rc}).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(1)));
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(2)));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(3)));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(4)));
  Status s = store->LoadCheckpoint(2).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("pruned"), std::string::npos);
  EXPECT_TRUE(store->Recover(kSpec, 0).ok());
}

}  // namespace
}  // namespace murmur::server::store
