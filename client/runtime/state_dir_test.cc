#include "client/runtime/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "client/runtime/atomic_file.h"

namespace murmur::client {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("murmur_state_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

TEST(StateDirTest, IdentityRoundTripsAndIsPrivate) {
  const fs::path dir = FreshDir("identity");
  Result<StateDir> s = StateDir::Open(dir.string());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir / "outbox"));
  auto none = s->LoadIdentity();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ClientIdentity id{"edge-7", 42, "tok", "0123456789abcdef0123"};
  ASSERT_TRUE(s->SaveIdentity(id).ok());
  auto back = s->LoadIdentity();
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->name, "edge-7");
  EXPECT_EQ((*back)->client_id, 42u);
  EXPECT_EQ((*back)->token, "tok");
  EXPECT_EQ((*back)->enrollment_secret, "0123456789abcdef0123");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "identity.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  fs::remove_all(dir);
}

TEST(StateDirTest, ParticipationRoundTrips) {
  const fs::path dir = FreshDir("participation");
  StateDir s = *StateDir::Open(dir.string());
  ParticipationRecord none = *s.LoadParticipation();
  EXPECT_EQ(none.at_s, 0);
  ParticipationRecord r;
  r.at_s = 1795996800.5;
  r.base_version = 3;
  r.local_steps = 9;
  r.outcome = "accepted";
  r.round_version = 4;
  r.accepted_total = 2;
  r.budget_day = 20787;
  r.budget_used_s = 12.5;
  ASSERT_TRUE(s.SaveParticipation(r).ok());
  ParticipationRecord b = *s.LoadParticipation();
  EXPECT_EQ(b.at_s, r.at_s);
  EXPECT_EQ(b.base_version, 3u);
  EXPECT_EQ(b.local_steps, 9u);
  EXPECT_EQ(b.outcome, "accepted");
  EXPECT_EQ(b.round_version, 4u);
  EXPECT_EQ(b.accepted_total, 2u);
  EXPECT_EQ(b.budget_day, 20787);
  EXPECT_EQ(b.budget_used_s, 12.5);
  fs::remove_all(dir);
}

TEST(StateDirTest, CrashLeftoversAreIgnoredAndCleaned) {
  const fs::path dir = FreshDir("crash");
  {
    StateDir s = *StateDir::Open(dir.string());
    ASSERT_TRUE(s.SaveIdentity({"a", 1, "t", "s"}).ok());
  }
  // A crash between the temp write and the rename: a partial temp file.
  std::ofstream(dir / "identity.json.tmp-999-0") << "{\"name\": \"b\", \"clie";
  StateDir s = *StateDir::Open(dir.string());
  EXPECT_FALSE(fs::exists(dir / "identity.json.tmp-999-0"));
  auto id = s.LoadIdentity();
  ASSERT_TRUE(id.ok() && id->has_value());
  EXPECT_EQ((*id)->name, "a");
  fs::remove_all(dir);
}

TEST(StateDirTest, CorruptFileIsAnErrorNamingThePath) {
  const fs::path dir = FreshDir("corrupt");
  StateDir s = *StateDir::Open(dir.string());
  std::ofstream(dir / "identity.json") << "not json";
  auto id = s.LoadIdentity();
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("identity.json"), std::string::npos);
  EXPECT_FALSE(StateDir::OpenExisting((dir / "nope").string()).ok());
  fs::remove_all(dir);
}

TEST(StateDirTest, GeneratedSecretsAreLongAndDiffer) {
  auto a = GenerateSecret();
  auto b = GenerateSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(AtomicFileTest, OverwriteReplacesWholeContent) {
  const fs::path dir = FreshDir("atomic");
  fs::create_directories(dir);
  const std::string path = (dir / "f").string();
  ASSERT_TRUE(WriteFileAtomically(path, "a long first version").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "short").ok());
  EXPECT_EQ(**ReadFileIfExists(path), "short");
  EXPECT_EQ(RemoveStaleTemps(dir.string()), 0);
  EXPECT_FALSE(ReadFileIfExists((dir / "missing").string())->has_value());
  EXPECT_FALSE(WriteFileAtomically((dir / "no/such/dir/f").string(), "x").ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace murmur::client
