// The Store contract (store.h), one typed suite run against every
// implementation: SqliteStore in a temporary directory and InMemoryStore.
// Both must pass every test here. SQLite-only behaviour (files, schema,
// corruption, orphans, fsync order) is in sqlite_store_test.cc and
// file_ops_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <type_traits>

#include "common/codec/tensor_codec.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "server/store/store.h"
#include "server/store/store_test_util.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

using namespace ::murmur::server::store::testing;

template <typename Impl>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(uint32_t keep_checkpoints = 0, uint32_t keep_every = 0) {
    keep_ = keep_checkpoints;
    every_ = keep_every;
    store_.reset();
    if constexpr (std::is_same_v<Impl, SqliteStore>) {
      auto s = SqliteStore::Open(
          {.dir = dir_.path(), .keep_checkpoints = keep_, .keep_every = every_});
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    } else {
      store_ = InMemoryStore::Create({.keep_checkpoints = keep_, .keep_every = every_});
    }
  }

  // A coordinator restart: SQLite reopens its directory (a new process);
  // the in-memory store is the same object (an engine restarted in one
  // process on the same store).
  void Restart() {
    if constexpr (std::is_same_v<Impl, SqliteStore>) {
      store_.reset();
      auto s = SqliteStore::Open(
          {.dir = dir_.path(), .keep_checkpoints = keep_, .keep_every = every_});
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    }
  }

  // Everything a caller can observe, to show a failed Write changed nothing.
  struct Observed {
    uint64_t latest = 0;
    std::vector<ClientRecord> clients;
    std::vector<ParticipationRecord> participations;
    std::vector<RoundRecord> rounds;
    std::vector<ClientParticipationStats> stats;
    uint64_t version = 0;
    std::vector<BufferedUpdate> buffer;
    std::string strategy_state;
    JobSettings settings;
    uint64_t next_id = 0;
    bool operator==(const Observed&) const = default;
  };
  Observed Observe() {
    Observed o;
    o.latest = *store_->LatestVersion();
    o.clients = *store_->ListClients(0, 0);
    o.participations = *store_->ListParticipations(0, 0);
    o.rounds = *store_->ListRounds(0, 0);
    o.stats = *store_->AllParticipationStats();
    auto rec = store_->Recover(kSpec, 100);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    if (rec.ok()) {
      o.version = rec->version;
      o.buffer = rec->buffer;
      o.strategy_state = rec->strategy_state;
      o.settings = rec->settings;
      o.next_id = rec->next_participation_id;
    }
    return o;
  }

  TestTempDir dir_;
  uint32_t keep_ = 0;
  uint32_t every_ = 0;
  std::unique_ptr<Store> store_;
};

using Implementations = ::testing::Types<SqliteStore, InMemoryStore>;
class ImplName {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteStore> ? "Sqlite" : "InMemory";
  }
};
TYPED_TEST_SUITE(StoreContractTest, Implementations, ImplName);

TYPED_TEST(StoreContractTest, FreshStoreInitializesVersionOne) {
  Store& store = *this->store_;
  EXPECT_TRUE(*store.IsEmpty());
  EXPECT_EQ(*store.LatestVersion(), 0u);
  EXPECT_EQ(store.LoadCheckpoint(0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.Recover(kSpec, 0).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store.Initialize(Model(1), "fedau", 10.0).ok());
  EXPECT_FALSE(*store.IsEmpty());
  Status again = store.Initialize(Model(1), "fedau", 10.0);  // only once
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find(store.Describe()), std::string::npos) << again.message();
  auto rec = store.Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_TRUE(SameBits(rec->model, Model(1)));
  EXPECT_EQ(rec->strategy, "fedau");
  EXPECT_TRUE(rec->strategy_state.empty());
  EXPECT_TRUE(rec->settings.empty());
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_TRUE(rec->clients.empty());
  EXPECT_EQ(rec->next_participation_id, 1u);
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 10.0);
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
  EXPECT_EQ(*store.LatestVersion(), 1u);
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(0), Model(1)));
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(1), Model(1)));
}

TYPED_TEST(StoreContractTest, BufferedUpdatesSurviveAndTheRoundCommitIsAtomic) {
  ASSERT_TRUE(this->store_->Initialize(Model(1), "afa_cd", 0).ok());
  WriteBatch b = BufferUpdates(1, 2, {1, 2});
  b.clients = {Client(1), Client(2)};
  b.participations.push_back(Rejected(3, 2, 3));
  ASSERT_TRUE(this->store_->Write(b).ok());
  this->Restart();
  TensorList next = Model(7);
  {
    Store& store = *this->store_;
    auto rec = store.Recover(kSpec, 0);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->version, 1u);
    ASSERT_EQ(rec->clients.size(), 2u);
    EXPECT_EQ(rec->clients[1], Client(2));
    ASSERT_EQ(rec->buffer.size(), 2u);
    EXPECT_EQ(rec->buffer[0].record, b.participations[0]);
    EXPECT_EQ(rec->buffer[1].record.client_id, 2u);
    EXPECT_TRUE(SameBits(*DecodeTensors(rec->buffer[1].payload), Model(2)));
    EXPECT_EQ(rec->next_participation_id, 4u);
    EXPECT_EQ(rec->accepted_total, 2u);
    EXPECT_EQ(rec->rejected_total, 1u);
    ASSERT_EQ(rec->recent_accepted.size(), 2u);
    EXPECT_EQ(rec->recent_accepted[0].payload_checksum, PayloadChecksum(1));

    WriteBatch close = BufferUpdates(4, 2, {1});  // a third update arrives and closes it
    RoundCommit rc;
    rc.round = {.version = 2, .trigger = "buffer_full", .num_updates = 3, .update_norm = 1.5,
                .mean_client_loss = 0.5, .opened_at_s = 0, .closed_at_s = 3};
    rc.weights = {{1, 0.25}, {2, 0.25}, {4, 0.5}};
    rc.model = &next;
    rc.strategy = "afa_cd";
    rc.strategy_state = "STATE";
    close.round = rc;
    ASSERT_TRUE(store.Write(close).ok());
  }
  this->Restart();
  Store& store = *this->store_;
  auto rec = store.Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 2u);
  EXPECT_TRUE(SameBits(rec->model, next));
  EXPECT_EQ(rec->strategy_state, "STATE");
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 3.0);
  auto parts = *store.RoundParticipants(2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].id, 4u);
  EXPECT_DOUBLE_EQ(*parts[2].weight, 0.5);
  auto hist = *store.ClientHistory(2, 0);
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(hist[0].id, 3u);  // newest first
  EXPECT_FALSE(hist[0].accepted);
  EXPECT_EQ(hist[0].reject_reason, 3);
  EXPECT_EQ(hist[0].round_version, 0u);
  EXPECT_FALSE(hist[0].weight.has_value());
  EXPECT_TRUE(hist[1].weight.has_value());
  auto rounds = *store.ListRounds(0, 0);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].trigger, "buffer_full");
  EXPECT_EQ(rounds[0].num_updates, 3u);
  EXPECT_DOUBLE_EQ(rounds[0].update_norm, 1.5);
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(0), next));
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(1), Model(1)));
  EXPECT_EQ(store.LoadCheckpoint(5).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, AFailedRoundCommitLeavesNothingBehind) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedavg_participants", 0).ok());
  TensorList next = Model(2);
  WriteBatch b = BufferUpdates(1, 2, {1});
  b.clients = {Client(1)};
  RoundCommit rc;
  rc.round = {.version = 2, .trigger = "deadline", .num_updates = 2};  // but only 1 recorded
  rc.weights = {{1, 1.0}};
  rc.model = &next;
  rc.strategy = "fedavg_participants";
  b.round = rc;
  Status s = store.Write(b);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("round 2 closes with 2 updates"), std::string::npos) << s.ToString();
  EXPECT_TRUE(store.ListClients(0, 0)->empty());
  EXPECT_TRUE(store.ListParticipations(0, 0)->empty());
  EXPECT_TRUE(store.ListRounds(0, 0)->empty());
  EXPECT_EQ(*store.LatestVersion(), 1u);
  EXPECT_EQ(store.LoadCheckpoint(2).status().code(), StatusCode::kNotFound);
  auto rec = store.Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

// Each bad batch carries valid parts before its bad one; none of it may land.
TYPED_TEST(StoreContractTest, ABadBatchIsRejectedWhole) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedau", 0).ok());
  WriteBatch good = BufferUpdates(1, 2, {1, 2});
  good.clients = {Client(1), Client(2)};
  ASSERT_TRUE(store.Write(good).ok());
  const auto before = this->Observe();
  TensorList next = Model(5);

  std::vector<std::pair<std::string, WriteBatch>> bad;
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    b.participations.push_back(Accepted(1, 2, 2));  // id 1 is already recorded
    bad.emplace_back("a participation id already recorded", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    b.participations.push_back(Rejected(3, 2, 1));  // id 3 twice in one batch
    bad.emplace_back("a participation id twice in the batch", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    b.buffered_payloads.emplace_back(99, "x");  // no participation 99
    bad.emplace_back("a payload of an unknown participation", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    b.buffered_payloads.emplace_back(1, "again");  // participation 1 already buffered
    bad.emplace_back("a payload buffered twice", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    ClientRecord c = Client(3);
    c.name = "client-1";  // client 1 has that name
    b.clients = {Client(4), c};
    bad.emplace_back("a client name another client holds", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    RoundCommit rc = Round(2, nullptr, {1, 2, 3});
    b.round = rc;
    bad.emplace_back("a round without its model", b);
  }
  {
    WriteBatch b = BufferUpdates(3, 2, {1});
    b.metrics = {{1, {{"acc", 0.5}}}};
    b.round = Round(2, &next, {1, 2});  // three accepted, two weights
    bad.emplace_back("a round whose weights miss an update", b);
  }
  for (const auto& [what, batch] : bad) {
    Status s = store.Write(batch);
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_EQ(this->Observe(), before) << what << ": " << s.ToString();
  }
  // A round version already committed.
  ASSERT_TRUE(store.Write({.round = Round(2, &next, {1, 2})}).ok());
  const auto committed = this->Observe();
  TensorList other = Model(6);
  WriteBatch dup = BufferUpdates(3, 3, {1});
  dup.round = Round(2, &other, {});
  EXPECT_FALSE(store.Write(dup).ok());
  EXPECT_EQ(this->Observe(), committed);
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(2), next));
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, RecoversExactlyAfterSeveralRounds) {
  ASSERT_TRUE(this->store_->Initialize(Model(1), "afa_cd", {{"m", "2"}}, 0.5).ok());
  ASSERT_TRUE(this->store_->Write({.clients = {Client(1), Client(2), Client(3)}}).ok());
  // Rounds 2..6, two accepted updates each (the second one stale by one
  // version from round 3 on), plus a rejected attempt per round.
  uint64_t id = 1;
  std::vector<TensorList> models = {Model(1)};
  for (uint64_t v = 2; v <= 6; ++v) {
    WriteBatch b;
    b.participations.push_back(Accepted(id, 1 + (v % 3), v));
    b.participations.push_back(Accepted(id + 1, 1 + ((v + 1) % 3), v, v > 2 ? v - 2 : 1));
    b.participations.push_back(Rejected(id + 2, 3, 2));
    b.buffered_payloads = {{id, "p" + std::to_string(id)}, {id + 1, "q"}};
    ASSERT_TRUE(this->store_->Write(b).ok());
    models.push_back(Model(static_cast<float>(v)));
    b = WriteBatch();
    b.round = Round(v, &models.back(), {id, id + 1}, "afa_cd");
    b.metrics = {{v - 1, {{"test_loss", 1.0 / static_cast<double>(v)}}}};
    ASSERT_TRUE(this->store_->Write(b).ok());
    id += 3;
  }
  // Round 7 is open with two buffered updates.
  WriteBatch open = BufferUpdates(id, 7, {2, 3});
  open.participations[1].base_version = 5;  // one version stale
  ASSERT_TRUE(this->store_->Write(open).ok());
  this->Restart();
  Store& store = *this->store_;
  auto rec = store.Recover(kSpec, 1);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 6u);
  EXPECT_TRUE(SameBits(rec->model, Model(6)));
  EXPECT_EQ(rec->strategy, "afa_cd");
  EXPECT_EQ(rec->strategy_state, "state-6");
  EXPECT_EQ(rec->settings, (JobSettings{{"m", "2"}}));
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 6.0);
  EXPECT_EQ(rec->clients.size(), 3u);
  ASSERT_EQ(rec->buffer.size(), 2u);
  EXPECT_EQ(rec->buffer[0].record, open.participations[0]);
  EXPECT_EQ(rec->buffer[1].record, open.participations[1]);
  EXPECT_EQ(rec->buffer[1].payload, open.buffered_payloads[1].second);
  EXPECT_EQ(rec->next_participation_id, id + 2);
  EXPECT_EQ(rec->accepted_total, 12u);
  EXPECT_EQ(rec->rejected_total, 5u);
  // max_staleness 1: base versions >= 5, in id order.
  const std::vector<AcceptedKey> want = {
      {.client_id = 1 + (6 % 3), .base_version = 5, .payload_checksum = 1000 + 13,
       .round_version = 6},
      {.client_id = 2, .base_version = 6, .payload_checksum = PayloadChecksum(16),
       .round_version = 7},
      {.client_id = 3, .base_version = 5, .payload_checksum = PayloadChecksum(17),
       .round_version = 7}};
  EXPECT_EQ(rec->recent_accepted, want);
  for (uint64_t v = 1; v <= 6; ++v) {
    EXPECT_TRUE(SameBits(*store.LoadCheckpoint(v), Model(static_cast<float>(v)))) << v;
  }
  // The resumed store keeps going: round 7 closes.
  TensorList seven = Model(7);
  ASSERT_TRUE(store.Write({.round = Round(7, &seven, {id, id + 1}, "afa_cd")}).ok());
  this->Restart();
  rec = this->store_->Recover(kSpec, 1);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 7u);
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_EQ(*this->store_->IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, TheRoundCommitRemovesOnlyItsOwnBufferedPayloads) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedbuff", 0).ok());
  ASSERT_TRUE(store.Write(BufferUpdates(1, 2, {1, 2})).ok());
  // One batch: a third update for round 2, the commit of round 2, and an
  // update that arrived after the close, buffered into round 3.
  WriteBatch b = BufferUpdates(3, 2, {3});
  WriteBatch later = BufferUpdates(4, 3, {1});
  b.participations.push_back(later.participations[0]);
  b.buffered_payloads.push_back(later.buffered_payloads[0]);
  TensorList next = Model(2);
  b.round = Round(2, &next, {1, 2, 3}, "fedbuff");
  ASSERT_TRUE(store.Write(b).ok());
  auto rec = store.Recover(kSpec, 10);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->buffer.size(), 1u);
  EXPECT_EQ(rec->buffer[0].record.id, 4u);
  EXPECT_EQ(rec->buffer[0].payload, later.buffered_payloads[0].second);
  // Closing round 3 empties the buffer.
  TensorList third = Model(3);
  ASSERT_TRUE(store.Write({.round = Round(3, &third, {4}, "fedbuff")}).ok());
  rec = store.Recover(kSpec, 10);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_EQ(rec->accepted_total, 4u);
  // The payloads are gone but the participations and their weights stay.
  auto parts = *store.RoundParticipants(2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_DOUBLE_EQ(*parts[0].weight, 1.0 / 3.0);
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, QueriesAreOrderedAndLimited) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedau", 0).ok());
  WriteBatch b;
  for (uint64_t c = 1; c <= 120; ++c) b.clients.push_back(Client(c, static_cast<double>(c)));
  // 150 rejected attempts of clients 1..3 (client 1: ids 1, 4, ..., 148),
  // then 110 of client 7 (ids 151..260).
  for (uint64_t id = 1; id <= 150; ++id) {
    b.participations.push_back(Rejected(id, 1 + (id - 1) % 3, 1));
  }
  for (uint64_t id = 151; id <= 260; ++id) b.participations.push_back(Rejected(id, 7, 1));
  ASSERT_TRUE(store.Write(b).ok());
  std::vector<TensorList> models;
  models.reserve(5);
  for (uint64_t v = 2; v <= 6; ++v) {
    models.push_back(Model(static_cast<float>(v)));
    WriteBatch r;
    r.participations = {Accepted(300 + v, 2, v)};
    r.round = Round(v, &models.back(), {300 + v});
    r.metrics = {{v, {{"b", 2.0}, {"a", 1.0}}}};
    ASSERT_TRUE(store.Write(r).ok());
  }

  auto clients = *store.ListClients(0, 0);
  ASSERT_EQ(clients.size(), 100u);  // 0 means 100
  EXPECT_EQ(clients.front().client_id, 1u);
  EXPECT_EQ(clients.back().client_id, 100u);
  clients = *store.ListClients(50, 10);
  ASSERT_EQ(clients.size(), 10u);
  EXPECT_EQ(clients.front().client_id, 51u);
  EXPECT_EQ(clients.back().client_id, 60u);
  EXPECT_EQ(store.ListClients(115, 0)->size(), 5u);
  EXPECT_TRUE(store.ListClients(120, 0)->empty());

  auto all = *store.ListParticipations(0, 0);  // 0 means no limit
  ASSERT_EQ(all.size(), 265u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].id, all[i].id);
  auto page = *store.ListParticipations(10, 5);
  ASSERT_EQ(page.size(), 5u);
  EXPECT_EQ(page.front().id, 11u);
  EXPECT_EQ(page.back().id, 15u);
  EXPECT_EQ(store.ListParticipations(300, 0)->size(), 5u);

  auto hist = *store.ClientHistory(7, 0);  // 0 means 100, newest first
  ASSERT_EQ(hist.size(), 100u);
  EXPECT_EQ(hist.front().id, 260u);
  EXPECT_EQ(hist.back().id, 161u);
  hist = *store.ClientHistory(1, 3);
  ASSERT_EQ(hist.size(), 3u);
  EXPECT_EQ(hist[0].id, 148u);
  EXPECT_EQ(hist[1].id, 145u);
  EXPECT_EQ(hist[2].id, 142u);
  EXPECT_TRUE(store.ClientHistory(999, 0)->empty());

  auto rounds = *store.ListRounds(3, 2);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].version, 3u);
  EXPECT_EQ(rounds[1].version, 4u);
  EXPECT_EQ(rounds[1].metrics, (std::map<std::string, double>{{"a", 1.0}, {"b", 2.0}}));
  EXPECT_EQ(store.ListRounds(0, 0)->size(), 5u);
  EXPECT_EQ(store.ListRounds(6, 0)->size(), 1u);
  EXPECT_TRUE(store.ListRounds(7, 0)->empty());

  auto parts = *store.RoundParticipants(4);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].id, 304u);
  EXPECT_TRUE(store.RoundParticipants(9)->empty());
  EXPECT_EQ(store.AllParticipationStats()->size(), 120u);
}

TYPED_TEST(StoreContractTest, AClientUpdateKeepsItsRegistration) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedau", 0).ok());
  ClientRecord c = Client(1, 5.0);
  c.registered_version = 2;
  c.left_at_s = 99;  // not left: no leave time is kept
  ASSERT_TRUE(store.Write({.clients = {c}}).ok());
  EXPECT_EQ(store.ListClients(0, 0)->at(0).left_at_s, 0.0);
  ClientRecord later = c;
  later.name = "renamed";
  later.token_sha256 = "new-digest";
  later.registered_at_s = 50;
  later.registered_version = 9;
  later.left = true;
  later.left_at_s = 60;
  later.last_seen_s = 59;
  ASSERT_TRUE(store.Write({.clients = {later}}).ok());
  auto clients = *store.ListClients(0, 0);
  ASSERT_EQ(clients.size(), 1u);
  ClientRecord want = later;
  want.registered_at_s = 5.0;
  want.registered_version = 2;
  EXPECT_EQ(clients[0], want);
  // The old name is free again.
  ClientRecord other = Client(2);
  other.name = c.name;
  ASSERT_TRUE(store.Write({.clients = {other}}).ok());
  clients = *store.ListClients(0, 0);
  ASSERT_EQ(clients.size(), 2u);
  EXPECT_EQ(clients[1].name, c.name);
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, ParticipationStatisticsPerClient) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(0), "fedau", 0).ok());
  ASSERT_TRUE(store.Write({.clients = {Client(1), Client(2)}}).ok());
  // Client 1 takes part in rounds 2, 4 and 5; client 2 in round 3 only.
  const std::vector<std::vector<uint64_t>> participants = {{1}, {2}, {1}, {1}};
  uint64_t id = 1;
  for (uint64_t v = 2; v <= 5; ++v) {
    WriteBatch b = BufferUpdates(id, v, participants[v - 2]);
    TensorList m = Model(static_cast<float>(v));
    RoundCommit rc;
    rc.round = {.version = v, .trigger = "deadline", .num_updates = 1, .closed_at_s = double(v)};
    rc.weights = {{id, 0.5 * double(v)}};
    rc.model = &m;
    rc.strategy = "fedau";
    b.round = rc;
    b.metrics = {{v, {{"test_loss", 1.0 / double(v)}}}};
    ASSERT_TRUE(store.Write(b).ok());
    ++id;
  }
  ASSERT_TRUE(store.Write({.participations = {Rejected(id, 1, 3)}}).ok());
  auto s1 = *store.ParticipationStats(1);
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
  EXPECT_EQ(s1.last_weight, 2.5) << "the weight of its round-5 update, its latest";
  // An accepted update whose round is still open has no weight yet.
  ASSERT_TRUE(store.Write(BufferUpdates(id + 1, 6, {1})).ok());
  EXPECT_EQ(store.ParticipationStats(1)->last_weight, 2.5);
  EXPECT_EQ(store.ParticipationStats(2)->last_weight, 1.5);
  auto all = *store.AllParticipationStats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].last_weight, 2.5);
  EXPECT_EQ(all[0].accepted, 4u);
  EXPECT_EQ(all[1].rounds_participated, 1u);
  EXPECT_EQ(all[1].intervals, 0u);
  EXPECT_EQ(store.ParticipationStats(9).status().code(), StatusCode::kNotFound);
  auto rounds = *store.ListRounds(3, 2);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].version, 3u);
  EXPECT_DOUBLE_EQ(rounds[1].metrics.at("test_loss"), 0.25);
}

TYPED_TEST(StoreContractTest, KeepsOnlyTheNewestCheckpointsWhenAsked) {
  this->Open(/*keep_checkpoints=*/2);
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 4; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store.Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  for (uint64_t v : {1, 2}) {
    Status s = store.LoadCheckpoint(v).status();
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << v;
    EXPECT_NE(s.message().find("pruned"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(3), Model(3)));
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(0), Model(4)));
  EXPECT_EQ(*store.LatestVersion(), 4u);
  auto rec = store.Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(SameBits(rec->model, Model(4)));
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, KeepsTheNewestAndEveryKthCheckpoint) {
  this->Open(/*keep_checkpoints=*/2, /*keep_every=*/3);
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 10; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store.Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  // Newest 2: 9, 10; every 3rd: 3, 6, 9.
  for (uint64_t v : {3, 6, 9, 10}) {
    auto m = store.LoadCheckpoint(v);
    ASSERT_TRUE(m.ok()) << v << ": " << m.status().ToString();
    EXPECT_TRUE(SameBits(*m, Model(static_cast<float>(v)))) << v;
  }
  for (uint64_t v : {1, 2, 4, 5, 7, 8}) {
    Status s = store.LoadCheckpoint(v).status();
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << v;
    EXPECT_NE(s.message().find("pruned (keep_checkpoints = 2, keep_every = 3)"),
              std::string::npos)
        << s.message();
  }
  // The rows stay: every round is still listed.
  auto rounds = *store.ListRounds(0, 0);
  ASSERT_EQ(rounds.size(), 9u);
  EXPECT_EQ(rounds.front().version, 2u);
  EXPECT_EQ(rounds.back().version, 10u);
  // One more round: 9 stays as a 3rd, 10 stays as the newest but one.
  TensorList m11 = Model(11);
  ASSERT_TRUE(store.Write({.round = Round(11, &m11, {}, "fedavg_participants")}).ok());
  EXPECT_TRUE(store.LoadCheckpoint(9).ok());
  EXPECT_TRUE(store.LoadCheckpoint(10).ok());
  EXPECT_TRUE(store.LoadCheckpoint(11).ok());
  EXPECT_EQ(store.LoadCheckpoint(8).status().code(), StatusCode::kNotFound);
  auto rec = store.Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(SameBits(rec->model, Model(11)));
  EXPECT_EQ(*store.IntegrityCheck(), "ok");
}

TYPED_TEST(StoreContractTest, KeepEveryAloneKeepsEverything) {
  this->Open(/*keep_checkpoints=*/0, /*keep_every=*/3);
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 5; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store.Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  for (uint64_t v = 1; v <= 5; ++v) EXPECT_TRUE(store.LoadCheckpoint(v).ok()) << v;
}

TYPED_TEST(StoreContractTest, KeepsEveryCheckpointByDefault) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 4; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store.Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(1), Model(0)));
  EXPECT_TRUE(SameBits(*store.LoadCheckpoint(2), Model(2)));
}

TYPED_TEST(StoreContractTest, WrongModelShapeIsRefused) {
  Store& store = *this->store_;
  ASSERT_TRUE(store.Initialize(Model(1), "fedau", 0).ok());
  const ModelSpec other = {{"w", {4}}, {"b", {1}}};
  Status s = store.Recover(other, 0).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("[4]"), std::string::npos) << s.message();
}

TYPED_TEST(StoreContractTest, JobSettingsAreSavedWithTheState) {
  const JobSettings initial = {{"strategy.m", "6"}, {"mode", "async"}, {"max_staleness", "4"}};
  ASSERT_TRUE(this->store_->Initialize(Model(1), "fedau", initial, 0).ok());
  this->Restart();
  EXPECT_EQ(this->store_->Recover(kSpec, 0)->settings, initial);
  // Rounds do not touch them.
  TensorList next = Model(2);
  ASSERT_TRUE(this->store_->Write({.round = Round(2, &next, {})}).ok());
  EXPECT_EQ(this->store_->Recover(kSpec, 0)->settings, initial);
  // The override path replaces all of them: keys not given are removed.
  const JobSettings overridden = {{"mode", "sync"}, {"close_empty_rounds", "true"}};
  ASSERT_TRUE(this->store_->ReplaceSettings(overridden).ok());
  this->Restart();
  auto rec = this->store_->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->settings, overridden);
  EXPECT_EQ(rec->version, 2u);
  ASSERT_TRUE(this->store_->ReplaceSettings({}).ok());
  EXPECT_TRUE(this->store_->Recover(kSpec, 0)->settings.empty());
  // Values are kept as given, including empty ones and odd characters.
  const JobSettings odd = {{"empty", ""}, {"quote", "it's \"x\"; DROP"}, {"unicode", "η_L=0.1"}};
  ASSERT_TRUE(this->store_->ReplaceSettings(odd).ok());
  this->Restart();
  EXPECT_EQ(this->store_->Recover(kSpec, 0)->settings, odd);
}

TYPED_TEST(StoreContractTest, SettingsCannotBeReplacedBeforeInitialize) {
  Status s = this->store_->ReplaceSettings({{"a", "b"}});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(this->store_->Describe()), std::string::npos) << s.message();
  EXPECT_TRUE(*this->store_->IsEmpty());
}

}  // namespace
}  // namespace murmur::server::store
