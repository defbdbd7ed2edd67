#include "client/runtime/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/runtime/backoff.h"
#include "client/runtime/state_dir.h"

namespace murmur::client {
namespace {

namespace fs = std::filesystem;

api::UpdateToPush Sample(uint64_t base) {
  api::UpdateToPush u;
  u.base_version = base;
  u.local_steps = 7;
  u.num_samples = 112;
  u.mean_loss = 0.25;
  u.train_seconds = 1.5;
  u.encoding = Encoding::kFp16;
  u.payload = std::string("\x00\x01payload\xff", 10);
  return u;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_outbox_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    state_ = std::make_unique<StateDir>(*StateDir::Open(dir_.string()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::unique_ptr<StateDir> state_;
};

TEST_F(OutboxTest, PutListRemoveOldestFirst) {
  Outbox box(state_->outbox_dir());
  auto a = box.Put(Sample(3), 100.0);
  auto b = box.Put(Sample(5), 200.0);
  ASSERT_TRUE(a.ok() && b.ok());
  auto list = box.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, *a);
  EXPECT_EQ((*list)[0].update.base_version, 3u);
  EXPECT_EQ((*list)[1].update.base_version, 5u);
  const api::UpdateToPush& u = (*list)[0].update;
  EXPECT_EQ(u.local_steps, 7u);
  EXPECT_EQ(u.num_samples, 112u);
  EXPECT_EQ(u.mean_loss, 0.25);
  EXPECT_EQ(u.train_seconds, 1.5);
  EXPECT_EQ(u.encoding, Encoding::kFp16);
  EXPECT_EQ(u.payload, Sample(3).payload);
  EXPECT_EQ((*list)[0].created_s, 100.0);
  ASSERT_TRUE(box.Remove(*a).ok());
  auto summary = box.Summarize();
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->size(), 1u);
  EXPECT_EQ((*summary)[0].base_version, 5u);
  EXPECT_EQ((*summary)[0].payload_bytes, 10u);
}

TEST_F(OutboxTest, SurvivesReopening) {
  { ASSERT_TRUE(Outbox(state_->outbox_dir()).Put(Sample(9), 1.0).ok()); }
  Outbox again(state_->outbox_dir());
  auto list = again.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].update.base_version, 9u);
}

// A crash mid-write leaves a temp file (ignored, then cleaned at Open) or, on
// a filesystem without atomic rename, a torn file (checksum: skipped).
TEST_F(OutboxTest, PartialFilesAreIgnored) {
  Outbox box(state_->outbox_dir());
  ASSERT_TRUE(box.Put(Sample(1), 1.0).ok());
  const std::string full = Outbox::Encode(Sample(2), 2.0);
  std::ofstream(fs::path(box.dir()) / "00000000000002000-000-v2.update.tmp-1-0")
      << full.substr(0, full.size() / 2);
  std::ofstream(fs::path(box.dir()) / "00000000000003000-000-v3.update")
      << full.substr(0, full.size() - 3);
  auto list = box.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].update.base_version, 1u);
  StateDir reopened = *StateDir::Open(dir_.string());
  EXPECT_FALSE(fs::exists(fs::path(box.dir()) / "00000000000002000-000-v2.update.tmp-1-0"));
}

TEST_F(OutboxTest, DecodeRejectsGarbageWithTheId) {
  auto bad = Outbox::Decode("short", "x.update");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.update"), std::string::npos);
  std::string flipped = Outbox::Encode(Sample(1), 1.0);
  flipped[20] ^= 1;
  EXPECT_FALSE(Outbox::Decode(flipped, "y").ok());
}

TEST(BackoffTest, GrowsToTheCapWithinJitter) {
  Backoff b({.initial_s = 1, .max_s = 8, .factor = 2, .jitter = 0.25}, Rng(3));
  const double base[] = {1, 2, 4, 8, 8, 8};
  for (double expect : base) {
    const double d = b.NextDelay();
    EXPECT_GE(d, expect * 0.75);
    EXPECT_LE(d, expect * 1.25);
  }
  b.Reset();
  EXPECT_LE(b.NextDelay(), 1.25);
}

TEST(BackoffTest, JitterSpreadsClients) {
  Backoff a({.initial_s = 1, .max_s = 8, .factor = 2, .jitter = 0.5}, Rng(1));
  Backoff b({.initial_s = 1, .max_s = 8, .factor = 2, .jitter = 0.5}, Rng(2));
  EXPECT_NE(a.NextDelay(), b.NextDelay());
}

}  // namespace
}  // namespace murmur::client
