#include "common/token_digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

namespace murmur {

std::string TokenDigest(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * md.size(), '0');
  for (size_t i = 0; i < md.size(); ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return hex;
}

bool TokenMatchesDigest(std::string_view token, std::string_view digest) {
  const std::string mine = TokenDigest(token);
  if (digest.size() != mine.size()) return false;
  return CRYPTO_memcmp(mine.data(), digest.data(), mine.size()) == 0;
}

}  // namespace murmur
