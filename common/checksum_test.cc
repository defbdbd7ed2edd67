#include "common/checksum.h"

#include <gtest/gtest.h>

#include <string>

namespace murmur {
namespace {

TEST(ChecksumTest, StreamingEqualsOneShot) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  Xxh3Hasher h;
  for (size_t off = 0; off < data.size(); off += 4097) {
    h.Update(std::string_view(data).substr(off, 4097));
  }
  EXPECT_EQ(h.Digest(), Xxh3(data));
  h.Reset();
  EXPECT_EQ(h.Digest(), Xxh3(""));
}

TEST(ChecksumTest, DetectsOneBitFlip) {
  std::string data(4096, 'a');
  uint64_t before = Xxh3(data);
  data[1234] ^= 0x10;
  EXPECT_NE(before, Xxh3(data));
}

}  // namespace
}  // namespace murmur
