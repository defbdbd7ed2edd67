#include "server/store/checkpoint_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "server/store/test_temp_dir.h"

namespace murmur::server::store {
namespace {

TEST(CheckpointFileTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  TestTempDir dir;
  const std::string path = dir.Sub("f.bin");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, std::string("sec\0nd", 6)).ok());
  EXPECT_EQ(*ReadWholeFile(path), std::string("sec\0nd", 6));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  Status s = WriteFileAtomically(dir.Sub("no/such/dir/f.bin"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir/f.bin.tmp"), std::string::npos) << s.message();
}

TEST(CheckpointFileTest, ReadsBackBitExactAndNamesBadFiles) {
  TestTempDir dir;
  const TensorList model = {{"a", {2, 2}, {1.0f, -0.0f, 3.5e-38f, 1e30f}}, {"b", {1}, {0.1f}}};
  EncodedCheckpoint c = *EncodeCheckpoint(model);
  const std::string path = dir.Sub("v1.mrmt");
  ASSERT_TRUE(WriteFileAtomically(path, c.bytes).ok());
  const ModelSpec spec = SpecOf(model);
  auto back = ReadCheckpoint(path, c.checksum, &spec);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::memcmp((*back)[0].data.data(), model[0].data.data(), 16), 0);

  Status wrong_sum = ReadCheckpoint(path, c.checksum ^ 1, &spec).status();
  EXPECT_EQ(wrong_sum.code(), StatusCode::kDataLoss);
  EXPECT_NE(wrong_sum.message().find(path), std::string::npos);

  Status missing = ReadCheckpoint(dir.Sub("v2.mrmt"), c.checksum, &spec).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find(dir.Sub("v2.mrmt")), std::string::npos) << missing.message();

  const ModelSpec other = {{"a", {4}}, {"b", {1}}};
  Status shape = ReadCheckpoint(path, c.checksum, &other).status();
  EXPECT_EQ(shape.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shape.message().find(path), std::string::npos) << shape.message();
}

}  // namespace
}  // namespace murmur::server::store
