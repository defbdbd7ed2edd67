// InMemoryStore against SqliteStore on the same seeded workload: after every
// batch (valid or not) each query gives the same answer from both, and
// Recover returns the same state. The contract tests (store_contract_test.cc)
// check both against expectations; this checks them against each other on
// many more shapes of data.
#include "common/checksum.h"
#include "server/store/memory_store.h"

#include <gtest/gtest.h>

#include <random>

#include "server/store/sqlite_store.h"
#include "server/store/store_test_util.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

using namespace ::murmur::server::store::testing;

void ExpectSameState(Store& a, Store& b, uint64_t max_client, uint64_t max_version) {
  EXPECT_EQ(*a.LatestVersion(), *b.LatestVersion());
  EXPECT_EQ(*a.ListClients(0, 1000), *b.ListClients(0, 1000));
  EXPECT_EQ(*a.ListClients(3, 2), *b.ListClients(3, 2));
  EXPECT_EQ(*a.ListParticipations(0, 0), *b.ListParticipations(0, 0));
  EXPECT_EQ(*a.ListParticipations(7, 5), *b.ListParticipations(7, 5));
  EXPECT_EQ(*a.ListRounds(0, 1000), *b.ListRounds(0, 1000));
  EXPECT_EQ(*a.ListRounds(3, 2), *b.ListRounds(3, 2));
  EXPECT_EQ(*a.AllParticipationStats(), *b.AllParticipationStats());
  for (uint64_t c = 1; c <= max_client + 1; ++c) {
    auto sa = a.ParticipationStats(c);
    auto sb = b.ParticipationStats(c);
    ASSERT_EQ(sa.ok(), sb.ok()) << c;
    if (sa.ok()) {
      EXPECT_EQ(*sa, *sb) << c;
    }
    EXPECT_EQ(*a.ClientHistory(c, 0), *b.ClientHistory(c, 0)) << c;
    EXPECT_EQ(*a.ClientHistory(c, 2), *b.ClientHistory(c, 2)) << c;
  }
  for (uint64_t v = 0; v <= max_version + 1; ++v) {
    EXPECT_EQ(*a.RoundParticipants(v), *b.RoundParticipants(v)) << v;
    auto ma = a.LoadCheckpoint(v);
    auto mb = b.LoadCheckpoint(v);
    ASSERT_EQ(ma.status().code(), mb.status().code()) << v;
    if (ma.ok()) {
      EXPECT_TRUE(SameBits(*ma, *mb)) << v;
    }
  }
  auto ra = a.Recover(kSpec, 2);
  auto rb = b.Recover(kSpec, 2);
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_EQ(ra->version, rb->version);
  EXPECT_TRUE(SameBits(ra->model, rb->model));
  EXPECT_EQ(ra->strategy, rb->strategy);
  EXPECT_EQ(ra->strategy_state, rb->strategy_state);
  EXPECT_EQ(ra->settings, rb->settings);
  EXPECT_EQ(ra->clients, rb->clients);
  EXPECT_EQ(ra->buffer, rb->buffer);
  EXPECT_EQ(ra->recent_accepted, rb->recent_accepted);
  EXPECT_EQ(ra->next_participation_id, rb->next_participation_id);
  EXPECT_EQ(ra->round_opened_at_s, rb->round_opened_at_s);
  EXPECT_EQ(ra->accepted_total, rb->accepted_total);
  EXPECT_EQ(ra->rejected_total, rb->rejected_total);
  EXPECT_EQ(*a.IntegrityCheck(), "ok");
  EXPECT_EQ(*b.IntegrityCheck(), "ok");
}

TEST(InMemoryStoreTest, AnswersLikeSqliteOnASeededWorkload) {
  TestTempDir dir;
  auto sqlite = SqliteStore::Open(
      {.dir = dir.path(), .synchronous_full = false, .keep_checkpoints = 3});
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  auto memory = InMemoryStore::Create({.keep_checkpoints = 3});
  Store* stores[2] = {sqlite->get(), memory.get()};
  for (Store* s : stores) {
    ASSERT_TRUE(s->Initialize(Model(1), "afa_cd", {{"seed", "11"}}, 0.25).ok());
  }

  std::mt19937_64 gen(11);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(gen) < p; };
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(gen);
  };
  uint64_t version = 1, next_id = 1, clients = 0;
  std::vector<uint64_t> open_round;  // accepted ids in round version+1
  std::vector<TensorList> models;
  models.reserve(100);
  int failures = 0;
  for (int step = 0; step < 60; ++step) {
    WriteBatch b;
    uint64_t ids = next_id, n_clients = clients;
    std::vector<uint64_t> open = open_round;
    if (n_clients == 0 || chance(0.3)) {
      ++n_clients;
      b.clients.push_back(Client(n_clients, step));
      b.clients.back().registered_version = version;
    }
    if (chance(0.3)) {
      ClientRecord c = Client(pick(1, n_clients), step);
      c.last_seen_s = step + 0.5;
      c.left = chance(0.3);
      c.left_at_s = step + 0.75;
      c.max_local_steps = static_cast<uint32_t>(pick(1, 20));
      b.clients.push_back(c);
    }
    for (uint64_t k = pick(0, 4); k > 0; --k) {
      const uint64_t client = pick(1, n_clients);
      if (chance(0.75)) {
        ParticipationRecord p =
            Accepted(ids, client, version + 1, pick(version > 2 ? version - 2 : 1, version));
        p.mean_loss = 1.0 / static_cast<double>(ids);
        std::string payload = "payload-" + std::to_string(ids);
        p.payload_checksum = Xxh3(payload);
        b.participations.push_back(p);
        b.buffered_payloads.emplace_back(ids, std::move(payload));
        open.push_back(ids);
      } else {
        b.participations.push_back(Rejected(ids, client, static_cast<int32_t>(pick(1, 5))));
      }
      ++ids;
    }
    if (chance(0.3)) b.metrics.push_back({version, {{"loss", 1.0 / (step + 1)}, {"acc", 0.1}}});
    const bool close = chance(0.4);
    if (close) {
      models.push_back(Model(static_cast<float>(version + 1)));
      RoundCommit rc = Round(version + 1, &models.back(), open, "afa_cd");
      rc.round.closed_at_s = step + 0.9;
      for (auto& [id, w] : rc.weights) w = static_cast<double>(id) / 7.0;
      b.round = rc;
    }
    const bool poison = chance(0.15);
    if (poison) {  // a participation id already used: the whole batch must fail
      b.participations.push_back(Rejected(next_id > 1 ? next_id - 1 : ids, 1, 1));
      if (next_id == 1) b.participations.push_back(Rejected(ids, 1, 1));
    }
    Status sa = stores[0]->Write(b);
    Status sb = stores[1]->Write(b);
    ASSERT_EQ(sa.ok(), sb.ok()) << "step " << step << ": " << sa.ToString() << " vs "
                                << sb.ToString();
    ASSERT_EQ(sa.ok(), !poison) << "step " << step << ": " << sa.ToString();
    if (sa.ok()) {
      next_id = ids;
      clients = n_clients;
      open_round = open;
      if (close) {
        ++version;
        open_round.clear();
      }
    } else {
      ++failures;
    }
    if (chance(0.1)) {
      const JobSettings s = {{"step", std::to_string(step)}};
      for (Store* st : stores) ASSERT_TRUE(st->ReplaceSettings(s).ok());
    }
    ExpectSameState(*stores[0], *stores[1], clients, version);
    if (::testing::Test::HasFailure()) FAIL() << "at step " << step;
  }
  EXPECT_GT(version, 10u);  // the workload did close rounds
  EXPECT_GT(failures, 0);   // and did try bad batches
}

TEST(InMemoryStoreTest, DescribesItself) {
  EXPECT_EQ(InMemoryStore::Create()->Describe(), "in-memory store");
}

}  // namespace
}  // namespace murmur::server::store
