// SqliteStore behaviour beyond the Store contract: its files (checkpoint
// files, orphans, pruning), corruption and missing files named in errors.
// The contract itself is store_contract_test.cc; the fsync order is
// file_ops_test.cc.
#include "server/store/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "server/store/store_test_util.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

using namespace ::murmur::server::store::testing;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> OpenStore(StoreOptions o = {}) {
    o.dir = dir_.path();
    auto s = SqliteStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  TestTempDir dir_;
};

TEST_F(SqliteStoreTest, DescribesItselfByItsDatabaseFile) {
  auto store = OpenStore();
  EXPECT_EQ(store->Describe(), "SQLite store " + dir_.Sub("murmur.db"));
  EXPECT_EQ(store->db_path(), dir_.Sub("murmur.db"));
  EXPECT_EQ(store->CheckpointPath(42), dir_.Sub("checkpoints/v0000000042.mrmt"));
  // Store::Open is the same store behind the interface.
  store.reset();
  auto generic = Store::Open({.dir = dir_.path()});
  ASSERT_TRUE(generic.ok()) << generic.status().ToString();
  EXPECT_EQ((*generic)->Describe(), "SQLite store " + dir_.Sub("murmur.db"));
}

TEST_F(SqliteStoreTest, RecoverSweepsTheOrphanFileOfAFailedRound) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedavg_participants", 0).ok());
  TensorList next = Model(2);
  WriteBatch b = BufferUpdates(1, 2, {1});
  RoundCommit rc = Round(2, &next, {1}, "fedavg_participants");
  rc.round.num_updates = 2;  // but only 1 recorded: the transaction fails
  b.round = rc;
  ASSERT_FALSE(store->Write(b).ok());
  // The file was written before the transaction that failed.
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(2)));
  // A leftover temporary file of a crash mid-write is swept too.
  { std::ofstream(store->CheckpointPath(3) + ".tmp") << "torn"; }
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(2)));
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(3) + ".tmp"));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(1)));
}

TEST_F(SqliteStoreTest, ADuplicateRoundDoesNotTouchTheCommittedCheckpointFile) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
  TensorList two = Model(2), other = Model(9);
  ASSERT_TRUE(store->Write({.round = Round(2, &two, {})}).ok());
  Status s = store->Write({.round = Round(2, &other, {})});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("version 2 is already recorded"), std::string::npos) << s.message();
  EXPECT_TRUE(SameBits(*store->LoadCheckpoint(2), two));
}

TEST_F(SqliteStoreTest, CorruptOrMissingCheckpointNamesTheFile) {
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

TEST_F(SqliteStoreTest, WrongModelShapeNamesTheCheckpointFile) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
  const ModelSpec other = {{"w", {4}}, {"b", {1}}};
  Status s = store->Recover(other, 0).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("checkpoints/v0000000001.mrmt"), std::string::npos) << s.message();
}

TEST_F(SqliteStoreTest, NotADatabaseOrMissingDatabaseNamesTheFile) {
  {
    std::ofstream f(dir_.Sub("murmur.db"));
    f << "this is not an SQLite database, just some text that is long enough to matter";
  }
  auto s = SqliteStore::Open({.dir = dir_.path()});
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

TEST_F(SqliteStoreTest, PrunedCheckpointFilesAreRemoved) {
  auto store = OpenStore({.keep_checkpoints = 2});
  ASSERT_TRUE(store->Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 4; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store->Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(1)));
  EXPECT_FALSE(std::filesystem::exists(store->CheckpointPath(2)));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(3)));
  EXPECT_TRUE(std::filesystem::exists(store->CheckpointPath(4)));
  Status s = store->LoadCheckpoint(2).status();
  EXPECT_NE(s.message().find(store->CheckpointPath(2)), std::string::npos) << s.message();
  EXPECT_TRUE(store->Recover(kSpec, 0).ok());
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
}

TEST_F(SqliteStoreTest, RetentionBoundsTheCheckpointFilesOnDisk) {
  auto store = OpenStore({.keep_checkpoints = 3, .keep_every = 10});
  ASSERT_TRUE(store->Initialize(Model(0), "fedavg_participants", 0).ok());
  for (uint64_t v = 2; v <= 45; ++v) {
    TensorList m = Model(static_cast<float>(v));
    ASSERT_TRUE(store->Write({.round = Round(v, &m, {}, "fedavg_participants")}).ok());
  }
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("checkpoints"))) {
    files.insert(e.path().string());
  }
  std::set<std::string> expected;
  for (uint64_t v : {10, 20, 30, 40, 43, 44, 45}) expected.insert(store->CheckpointPath(v));
  EXPECT_EQ(files, expected);
  EXPECT_EQ(store->ListRounds(0, 0)->size(), 44u);  // the round rows stay
  // A restart with a tighter policy prunes at the next round.
  store.reset();
  store = OpenStore({.keep_checkpoints = 1, .keep_every = 20});
  ASSERT_TRUE(store->Recover(kSpec, 0).ok());
  TensorList m = Model(46);
  ASSERT_TRUE(store->Write({.round = Round(46, &m, {}, "fedavg_participants")}).ok());
  files.clear();
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("checkpoints"))) {
    files.insert(e.path().string());
  }
  expected.clear();
  for (uint64_t v : {20, 40, 46}) expected.insert(store->CheckpointPath(v));
  EXPECT_EQ(files, expected);
  EXPECT_EQ(*store->IntegrityCheck(), "ok");
}

TEST_F(SqliteStoreTest, BytesAfterTheLastCommittedPayloadAreIgnoredAndSkipped) {
  // A crash after the payload append but before its transaction leaves
  // bytes that no row names; recovery ignores them and later appends go
  // after them.
  const std::string seg = dir_.Sub("payloads/round-0000000002.seg");
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
    ASSERT_TRUE(store->Write(BufferUpdates(1, 2, {1})).ok());
  }
  std::ofstream(seg, std::ios::binary | std::ios::app) << "torn tail of an uncommitted update";
  auto store = OpenStore();
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->buffer.size(), 1u);
  EXPECT_EQ(rec->buffer[0].payload, PayloadOf(1));
  ASSERT_TRUE(store->Write(BufferUpdates(2, 2, {2})).ok());
  store.reset();
  store = OpenStore();
  rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->buffer.size(), 2u);
  EXPECT_EQ(rec->buffer[1].payload, PayloadOf(2));
}

TEST_F(SqliteStoreTest, ACorruptOrMissingPayloadSegmentNamesTheFile) {
  const std::string seg = dir_.Sub("payloads/round-0000000002.seg");
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
    ASSERT_TRUE(store->Write(BufferUpdates(1, 2, {1})).ok());
  }
  {
    std::fstream f(seg, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(20);
    f.put('\x7f');
  }
  auto store = OpenStore();
  auto rec = store->Recover(kSpec, 0);
  ASSERT_EQ(rec.status().code(), StatusCode::kDataLoss) << rec.status().ToString();
  EXPECT_NE(rec.status().message().find(seg), std::string::npos) << rec.status().message();
  EXPECT_NE(rec.status().message().find("checksum"), std::string::npos) << rec.status().message();

  std::filesystem::resize_file(seg, 10);
  rec = store->Recover(kSpec, 0);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find(seg), std::string::npos) << rec.status().message();

  std::filesystem::remove(seg);
  rec = store->Recover(kSpec, 0);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find(seg), std::string::npos) << rec.status().message();
}

TEST_F(SqliteStoreTest, RecoverRemovesTheSegmentsOfCommittedRounds) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Initialize(Model(1), "fedau", 0).ok());
  ASSERT_TRUE(store->Write(BufferUpdates(1, 2, {1})).ok());
  // A crash between a round's commit and the removal of its segment.
  std::filesystem::copy_file(dir_.Sub("payloads/round-0000000002.seg"),
                             dir_.Sub("payloads/round-0000000001.seg"));
  auto rec = store->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("payloads/round-0000000001.seg")));
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("payloads/round-0000000002.seg")));
}

}  // namespace
}  // namespace murmur::server::store
