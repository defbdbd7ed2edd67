#include "server/store/schema.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/codec/tensor_codec.h"
#include "common/token_digest.h"
#include "server/store/checkpoint_file.h"
#include "server/store/sqlite_store.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

TEST(SchemaTest, NewDatabaseGetsTheCurrentVersion) {
  TestTempDir dir;
  auto db = SqliteDb::Open(dir.Sub("a.db"), {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(*SchemaVersion(*db), 0);
  ASSERT_TRUE(Migrate(*db).ok());
  EXPECT_EQ(*SchemaVersion(*db), kCurrentSchemaVersion);
  ASSERT_TRUE(Migrate(*db).ok());  // idempotent
  EXPECT_EQ(*SchemaVersion(*db), kCurrentSchemaVersion);
  EXPECT_TRUE(db->QueryInt64("SELECT count(*) FROM round_metrics").ok());
}

TEST(SchemaTest, RefusesADatabaseFromTheFuture) {
  TestTempDir dir;
  auto db = SqliteDb::Open(dir.Sub("a.db"), {});
  ASSERT_TRUE(db->Exec("PRAGMA user_version = 99").ok());
  Status s = Migrate(*db);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("newer than this build"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir.Sub("a.db")), std::string::npos) << s.message();
}

// A store written by the first release (schema v1) opens, upgrades in place
// and resumes: rows survive, new columns take their defaults.
TEST(SchemaTest, UpgradesAVersionOneStore) {
  TestTempDir dir;
  const TensorList model = {{"w", {2}, {0.25f, -1.5f}}};
  const TensorList delta = {{"w", {2}, {0.5f, 0.5f}}};
  ASSERT_TRUE(MakeDirs(dir.Sub("checkpoints")).ok());
  EncodedCheckpoint ckpt = *EncodeCheckpoint(model);
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("checkpoints/v0000000003.mrmt"), ckpt.bytes).ok());
  {
    auto db = SqliteDb::Open(dir.Sub("murmur.db"), {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(Migrate(*db, 1).ok());
    EXPECT_EQ(*SchemaVersion(*db), 1);
    ASSERT_TRUE(db->Exec(R"sql(
INSERT INTO meta VALUES ('created_at_s', '5');
INSERT INTO clients (client_id, name, token, registered_at_s, registered_version)
  VALUES (1, 'alice', 't1', 5.0, 1), (2, 'bob', 't2', 6.0, 2);
INSERT INTO participations VALUES
  (1, 1, 1, 2, 3, 10, 0.9, 0, 1.0, 1, 0, 'buffered', 7.0, 7.0),
  (2, 2, 2, 3, 3, 10, 0.8, 0, 0.5, 1, 0, 'buffered', 8.0, 8.0),
  (3, 1, 2, 3, 3, 10, 0.7, 0, 0.5, 1, 0, 'buffered', 8.5, 8.5),
  (4, 1, 3, 4, 4, 10, 0.6, 0, NULL, 1, 0, 'buffered', 9.0, 9.0),
  (5, 2, 1, 0, 4, 10, 0.6, 2, NULL, 0, 3, 'update is 2 versions old', 9.5, 9.5);
INSERT INTO rounds VALUES (2, 'buffer_full', 1, 0.1, 0.9, 5.0, 7.0),
                          (3, 'buffer_full', 2, 0.2, 0.75, 7.0, 8.5);
INSERT INTO strategy_state VALUES (1, 'fedavg_participants', 3, x'');
)sql").ok());
    auto ck = *db->Prepare(
        "INSERT INTO checkpoints VALUES (3, 'checkpoints/v0000000003.mrmt', ?, ?, 8.5)");
    ASSERT_TRUE(ck.BindInt64(1, static_cast<int64_t>(ckpt.bytes.size()))
                    .BindUint64(2, ckpt.checksum)
                    .Run()
                    .ok());
    auto buf = *db->Prepare("INSERT INTO buffered_updates VALUES (4, ?)");
    ASSERT_TRUE(buf.BindBlob(1, *EncodeTensors(delta)).Run().ok());
  }
  auto store = Store::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    auto db = SqliteDb::Open(dir.Sub("murmur.db"), {});
    EXPECT_EQ(*SchemaVersion(*db), kCurrentSchemaVersion);
  }
  auto rec = (*store)->Recover(SpecOf(model), 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 3u);
  EXPECT_EQ(rec->model[0].data, model[0].data);
  ASSERT_EQ(rec->buffer.size(), 1u);
  EXPECT_EQ(rec->buffer[0].record.id, 4u);
  EXPECT_EQ(rec->buffer[0].record.local_lr, 0.0);          // unknown before v3
  EXPECT_EQ(rec->buffer[0].record.payload_checksum, 0u);   // unknown before v3
  EXPECT_EQ(rec->next_participation_id, 6u);
  ASSERT_EQ(rec->clients.size(), 2u);
  EXPECT_DOUBLE_EQ(rec->clients[1].last_seen_s, 6.0);      // backfilled
  EXPECT_EQ(rec->clients[0].token_sha256, TokenDigest("t1"));  // v4 hashed the v1 token
  EXPECT_EQ(rec->clients[1].token_sha256, TokenDigest("t2"));
  EXPECT_DOUBLE_EQ(rec->round_opened_at_s, 8.5);
  EXPECT_TRUE(rec->settings.empty());  // v5: nothing was saved before
  auto stats = *(*store)->ParticipationStats(1);
  EXPECT_EQ(stats.rounds_participated, 2u);
  EXPECT_EQ(stats.intervals, 1u);
  // v2 and v3 features work on the upgraded store.
  TensorList next = {{"w", {2}, {1.0f, 1.0f}}};
  RoundCommit rc;
  rc.round = {.version = 4, .trigger = "buffer_full", .num_updates = 1, .closed_at_s = 10};
  rc.weights = {{4, 1.0}};
  rc.model = &next;
  rc.strategy = "fedavg_participants";
  ASSERT_TRUE((*store)->Write({.metrics = {{3, {{"acc", 0.5}}}}, .round = rc}).ok());
  auto rounds = *(*store)->ListRounds(3, 0);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_DOUBLE_EQ(rounds[0].metrics.at("acc"), 0.5);
  EXPECT_EQ(*(*store)->RoundParticipants(4)->at(0).weight, 1.0);
  EXPECT_EQ(*(*store)->IntegrityCheck(), "ok");
}

// A store at schema `version` as an older release left it: version 1 of
// `model` committed (checkpoint file and row), strategy fedau, one client
// 'alice' whose session token digest is `token_sha256`. Returns the open
// database for checks of that old schema.
void WriteOldStore(const TestTempDir& dir, int version, const TensorList& model,
                   const std::string& token_sha256, SqliteDb* out) {
  ASSERT_TRUE(MakeDirs(dir.Sub("checkpoints")).ok());
  EncodedCheckpoint ckpt = *EncodeCheckpoint(model);
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("checkpoints/v0000000001.mrmt"), ckpt.bytes).ok());
  auto db = SqliteDb::Open(dir.Sub("murmur.db"), {});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(*db, version).ok());
  ASSERT_TRUE(db->Exec(fmt::format(R"sql(
INSERT INTO meta VALUES ('created_at_s', '2.5'), ('strategy', 'fedau');
INSERT INTO clients (client_id, name, token_sha256, registered_at_s, registered_version,
                     last_seen_s) VALUES (1, 'alice', '{}', 2.5, 1, 3.0);
INSERT INTO strategy_state VALUES (1, 'fedau', 1, x'');
)sql", token_sha256)).ok());
  auto ck = *db->Prepare(
      "INSERT INTO checkpoints (version, path, bytes, checksum, created_at_s) "
      "VALUES (1, 'checkpoints/v0000000001.mrmt', ?, ?, 2.5)");
  ASSERT_TRUE(ck.BindInt64(1, static_cast<int64_t>(ckpt.bytes.size()))
                  .BindUint64(2, ckpt.checksum)
                  .Run()
                  .ok());
  *out = std::move(*db);
}

// A store written by the previous release (schema v4, before job settings)
// upgrades to v5 with no settings, resumes, and can then save some.
TEST(SchemaTest, UpgradesAVersionFourStoreWithNoSettings) {
  TestTempDir dir;
  const TensorList model = {{"w", {2}, {0.25f, -1.5f}}};
  {
    SqliteDb db;
    WriteOldStore(dir, 4, model, "digest", &db);
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_FALSE(db.QueryInt64("SELECT count(*) FROM job_settings").ok());  // not in v4
  }
  auto store = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    auto db = SqliteDb::Open(dir.Sub("murmur.db"), {});
    EXPECT_EQ(*SchemaVersion(*db), kCurrentSchemaVersion);
  }
  auto rec = (*store)->Recover(SpecOf(model), 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_EQ(rec->strategy, "fedau");
  EXPECT_TRUE(rec->settings.empty());
  ASSERT_EQ(rec->clients.size(), 1u);
  EXPECT_EQ(rec->clients[0].name, "alice");
  ASSERT_TRUE((*store)->ReplaceSettings({{"mode", "async"}}).ok());
  store->reset();
  auto reopened = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Recover(SpecOf(model), 0)->settings, (JobSettings{{"mode", "async"}}));
  EXPECT_EQ(*(*reopened)->IntegrityCheck(), "ok");
}

// A store from before identity binding (schema v5) upgrades to v6: its
// clients come back unbound (empty credential digest), keep their session
// token digest, and a later write binds a credential durably.
TEST(SchemaTest, UpgradesAVersionFiveStoreWithUnboundClients) {
  TestTempDir dir;
  const TensorList model = {{"w", {2}, {0.25f, -1.5f}}};
  {
    SqliteDb db;
    WriteOldStore(dir, 5, model, "digest-a", &db);
    ASSERT_FALSE(HasFatalFailure());
    // Not in v5.
    EXPECT_FALSE(db.QueryInt64("SELECT count(credential_sha256) FROM clients").ok());
  }
  auto store = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    auto db = SqliteDb::Open(dir.Sub("murmur.db"), {});
    EXPECT_EQ(*SchemaVersion(*db), kCurrentSchemaVersion);
  }
  auto rec = (*store)->Recover(SpecOf(model), 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->clients.size(), 1u);
  EXPECT_EQ(rec->clients[0].token_sha256, "digest-a");
  EXPECT_EQ(rec->clients[0].credential_sha256, "");  // unbound
  ClientRecord bound = rec->clients[0];
  bound.credential_sha256 = TokenDigest("secret-alice");
  ASSERT_TRUE((*store)->Write({.clients = {bound}}).ok());
  store->reset();
  auto reopened = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(reopened.ok());
  auto again = (*reopened)->Recover(SpecOf(model), 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->clients.size(), 1u);
  EXPECT_EQ(again->clients[0].credential_sha256, TokenDigest("secret-alice"));
  EXPECT_EQ(*(*reopened)->IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace murmur::server::store
