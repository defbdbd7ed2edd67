// The order of file operations behind a checkpoint write, recorded through
// an injected FileOps: create + write the temp file, fsync it, close it,
// rename it into place, fsync the directory. And a failure at each of those
// steps: an error naming the checkpoint file, and no committed checkpoint.
#include "server/store/file_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <fcntl.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "server/store/checkpoint_file.h"
#include "server/store/sqlite_store.h"
#include "server/store/store_test_util.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

using namespace ::murmur::server::store::testing;

// The real file system, recording each operation as "<op> <path>" and
// failing the first operation `fail_op` on a path containing `fail_path`.
// Not synchronized: the store under test writes from the test's thread.
class RecordingFileOps final : public FileOps {
 public:
  std::vector<std::string> events;
  std::string fail_op;    // "create", "write", "fsync", "close", "rename", "fsync_dir"
  std::string fail_path;  // a substring of the path it names

  Status Maybe(const std::string& op, const std::string& path) {
    events.push_back(op + " " + path);
    if (!fail_op.empty() && op == fail_op && path.find(fail_path) != std::string::npos) {
      fail_op.clear();
      return InternalError("injected I/O error");  // says nothing of the file on purpose
    }
    return Status();
  }

  class File final : public WritableFile {
   public:
    File(RecordingFileOps* ops, std::unique_ptr<WritableFile> real)
        : ops_(ops), real_(std::move(real)) {}
    const std::string& path() const override { return real_->path(); }
    uint64_t size() const override { return real_->size(); }
    Status Truncate(uint64_t size) override {
      MURMUR_RETURN_IF_ERROR(ops_->Maybe("truncate", path()));
      return real_->Truncate(size);
    }
    Status Append(std::string_view bytes) override {
      MURMUR_RETURN_IF_ERROR(ops_->Maybe("write", path()));
      return real_->Append(bytes);
    }
    Status Sync() override {
      MURMUR_RETURN_IF_ERROR(ops_->Maybe("fsync", path()));
      return real_->Sync();
    }
    Status Close() override {
      MURMUR_RETURN_IF_ERROR(ops_->Maybe("close", path()));
      return real_->Close();
    }

   private:
    RecordingFileOps* ops_;
    std::unique_ptr<WritableFile> real_;
  };

  Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path) override {
    MURMUR_RETURN_IF_ERROR(Maybe("create", path));
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> real, real_->CreateFile(path));
    return std::unique_ptr<WritableFile>(new File(this, std::move(real)));
  }
  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool* created) override {
    MURMUR_RETURN_IF_ERROR(Maybe("open_append", path));
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> real,
                            real_->OpenForAppend(path, created));
    return std::unique_ptr<WritableFile>(new File(this, std::move(real)));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    MURMUR_RETURN_IF_ERROR(Maybe("rename", from + " -> " + to));
    return real_->Rename(from, to);
  }
  Status SyncDir(const std::string& dir) override {
    MURMUR_RETURN_IF_ERROR(Maybe("fsync_dir", dir));
    return real_->SyncDir(dir);
  }
  Status Remove(const std::string& path) override {
    MURMUR_RETURN_IF_ERROR(Maybe("remove", path));
    return real_->Remove(path);
  }
  Status MakeDirs(const std::string& dir) override {
    MURMUR_RETURN_IF_ERROR(Maybe("mkdirs", dir));
    return real_->MakeDirs(dir);
  }
  Result<std::string> ReadFile(const std::string& path) override {
    MURMUR_RETURN_IF_ERROR(Maybe("read", path));
    return real_->ReadFile(path);
  }
  Result<std::string> ReadRange(const std::string& path, uint64_t offset,
                                uint64_t length) override {
    MURMUR_RETURN_IF_ERROR(Maybe("read", path));
    return real_->ReadRange(path, offset, length);
  }

 private:
  FileOps* real_ = PosixFileOps();
};

std::vector<std::string> ExpectedCheckpointWrite(const std::string& path) {
  const std::string tmp = path + ".tmp";
  return {"create " + tmp,
          "write " + tmp,
          "fsync " + tmp,
          "close " + tmp,
          "rename " + tmp + " -> " + path,
          "fsync_dir " + std::filesystem::path(path).parent_path().string()};
}

TEST(FileOpsTest, WriteFileAtomicallyWritesSyncsRenamesThenSyncsTheDirectory) {
  TestTempDir dir;
  RecordingFileOps ops;
  const std::string path = dir.Sub("f.bin");
  ASSERT_TRUE(WriteFileAtomically(path, "bytes", &ops).ok());
  EXPECT_EQ(ops.events, ExpectedCheckpointWrite(path));
  EXPECT_EQ(*ReadWholeFile(path), "bytes");
}

TEST(FileOpsTest, ACheckpointIsSyncedBeforeItsRenameAndTheDirectoryAfter) {
  TestTempDir dir;
  RecordingFileOps ops;
  auto store = SqliteStore::Open({.dir = dir.path(), .file_ops = &ops});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SqliteStore& s = **store;
  ops.events.clear();
  ASSERT_TRUE(s.Initialize(Model(1), "fedau", 0).ok());
  EXPECT_EQ(ops.events, ExpectedCheckpointWrite(s.CheckpointPath(1)));
  ops.events.clear();
  TensorList next = Model(2);
  WriteBatch b = BufferUpdates(1, 2, {1});
  b.round = Round(2, &next, {1});
  ASSERT_TRUE(s.Write(b).ok());
  // The update's payload is not written: its round closes in the same batch.
  EXPECT_EQ(ops.events, ExpectedCheckpointWrite(s.CheckpointPath(2)));
}

TEST(FileOpsTest, BufferedPayloadsAreSyncedInTheirRoundsSegmentBeforeTheCommit) {
  TestTempDir dir;
  RecordingFileOps ops;
  auto store = SqliteStore::Open({.dir = dir.path(), .file_ops = &ops});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SqliteStore& s = **store;
  ASSERT_TRUE(s.Initialize(Model(1), "fedau", 0).ok());
  ops.events.clear();
  ASSERT_TRUE(s.Write(BufferUpdates(1, 2, {1, 2})).ok());
  const std::string seg = dir.Sub("payloads/round-0000000002.seg");
  // A new segment: its name is synced once, then one fsync for the group.
  EXPECT_EQ(ops.events, (std::vector<std::string>{"open_append " + seg,
                                                  "fsync_dir " + dir.Sub("payloads"),
                                                  "write " + seg, "write " + seg,
                                                  "fsync " + seg}));
  ops.events.clear();
  ASSERT_TRUE(s.Write(BufferUpdates(3, 2, {3})).ok());  // the file stays open
  EXPECT_EQ(ops.events, (std::vector<std::string>{"write " + seg, "fsync " + seg}));
  // The round commit deletes the segment after its transaction.
  TensorList next = Model(2);
  WriteBatch close;
  close.round = Round(2, &next, {1, 2, 3});
  ops.events.clear();
  ASSERT_TRUE(s.Write(close).ok());
  EXPECT_EQ(ops.events.back(), "remove " + seg);
  EXPECT_FALSE(std::filesystem::exists(seg));
}

TEST(FileOpsTest, AFailedPayloadSyncCommitsNothingAndARetryRecoversTheUpdates) {
  TestTempDir dir;
  RecordingFileOps ops;
  {
    auto store = SqliteStore::Open({.dir = dir.path(), .file_ops = &ops});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    SqliteStore& s = **store;
    ASSERT_TRUE(s.Initialize(Model(1), "fedau", 0).ok());
    ASSERT_TRUE(s.Write(BufferUpdates(1, 2, {1})).ok());
    ops.fail_op = "fsync";
    ops.fail_path = "round-";
    WriteBatch b = BufferUpdates(2, 2, {2, 3});
    Status st = s.Write(b);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("round-0000000002.seg"), std::string::npos) << st.message();
    EXPECT_EQ(s.ListParticipations(0, 0)->size(), 1u);  // the failed batch left no row
    ASSERT_TRUE(s.Write(b).ok()) << "a retry of the same batch succeeds";
  }
  auto store = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rec = (*store)->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->buffer.size(), 3u);
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(rec->buffer[id - 1].payload, PayloadOf(id)) << id;
}

class CheckpointFailureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CheckpointFailureTest, NamesTheFileAndCommitsNoCheckpoint) {
  TestTempDir dir;
  RecordingFileOps ops;
  {
    auto store = SqliteStore::Open({.dir = dir.path(), .file_ops = &ops});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    SqliteStore& s = **store;
    ASSERT_TRUE(s.Initialize(Model(1), "fedau", 0).ok());
    ops.fail_op = GetParam();
    ops.fail_path = ops.fail_op == "fsync_dir" ? "checkpoints" : "v0000000002";
    TensorList next = Model(2);
    WriteBatch b = BufferUpdates(1, 2, {1});
    b.round = Round(2, &next, {1});
    Status st = s.Write(b);
    ASSERT_FALSE(st.ok()) << GetParam();
    EXPECT_TRUE(ops.fail_op.empty()) << "the step " << GetParam() << " never ran";
    EXPECT_NE(st.message().find(s.CheckpointPath(2)), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("injected I/O error"), std::string::npos) << st.message();
    EXPECT_EQ(*s.LatestVersion(), 1u);
    EXPECT_EQ(s.LoadCheckpoint(2).status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(s.ListRounds(0, 0)->empty());
    EXPECT_TRUE(s.ListParticipations(0, 0)->empty());  // the whole batch is gone
  }
  // After a restart: version 1, and no file of version 2 left behind.
  auto store = SqliteStore::Open({.dir = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rec = (*store)->Recover(kSpec, 0);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->version, 1u);
  EXPECT_TRUE(rec->buffer.empty());
  EXPECT_FALSE(std::filesystem::exists((*store)->CheckpointPath(2)));
  EXPECT_FALSE(std::filesystem::exists((*store)->CheckpointPath(2) + ".tmp"));
}

TEST_P(CheckpointFailureTest, AFailedInitializeLeavesTheStoreEmpty) {
  TestTempDir dir;
  RecordingFileOps ops;
  auto store = SqliteStore::Open({.dir = dir.path(), .file_ops = &ops});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ops.fail_op = GetParam();
  ops.fail_path = ops.fail_op == "fsync_dir" ? "checkpoints" : "v0000000001";
  Status st = (*store)->Initialize(Model(1), "fedau", {{"k", "v"}}, 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find((*store)->CheckpointPath(1)), std::string::npos) << st.message();
  EXPECT_TRUE(*(*store)->IsEmpty());
  ASSERT_TRUE((*store)->Initialize(Model(1), "fedau", 0).ok());  // a retry succeeds
}

INSTANTIATE_TEST_SUITE_P(EachStep, CheckpointFailureTest,
                         ::testing::Values("create", "write", "fsync", "close", "rename",
                                           "fsync_dir"));

// Exit codes of the child below.
enum : int { kChildOk = 0, kChildNotExhausted = 10, kChildWriteFailed = 11, kChildReadFailed = 12 };

TEST(FileOpsTest, WritesItsFilesEvenWhenTheProcessHasNoDescriptorsLeft) {
  TestTempDir dir;
  FileOps* ops = PosixFileOps();  // sets its reserve aside now
  const std::string path = dir.Sub("ckpt.bin");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child uses up every descriptor it may have, as a flood of idle
    // connections would, then writes a file the way a checkpoint is written.
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_cur, 256);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    while (::dup(0) >= 0) {
    }
    if (errno != EMFILE) ::_exit(kChildNotExhausted);
    if (::open("/dev/null", O_RDONLY) >= 0) ::_exit(kChildNotExhausted);
    if (!WriteFileAtomically(path, "model bytes", ops).ok()) ::_exit(kChildWriteFailed);
    Result<std::string> back = ops->ReadFile(path);
    if (!back.ok() || *back != "model bytes") ::_exit(kChildReadFailed);
    ::_exit(kChildOk);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kChildOk)
      << "10: could not exhaust descriptors, 11: the write failed, 12: the read failed";
}

}  // namespace
}  // namespace murmur::server::store
