#include "common/token_digest.h"

#include <gtest/gtest.h>

namespace murmur {
namespace {

TEST(TokenDigestTest, IsTheSha256OfTheToken) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(TokenDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(TokenDigest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenDigestTest, MatchesOnlyTheRightToken) {
  const std::string digest = TokenDigest("0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(TokenMatchesDigest("0123456789abcdef0123456789abcdef", digest));
  EXPECT_FALSE(TokenMatchesDigest("0123456789abcdef0123456789abcdee", digest));
  EXPECT_FALSE(TokenMatchesDigest("", digest));
  EXPECT_FALSE(TokenMatchesDigest("0123456789abcdef0123456789abcdef", digest.substr(1)));
  EXPECT_FALSE(TokenMatchesDigest("0123456789abcdef0123456789abcdef", ""));
  // A digest is not a token: presenting the stored value does not authenticate.
  EXPECT_FALSE(TokenMatchesDigest(digest, digest));
}

}  // namespace
}  // namespace murmur
