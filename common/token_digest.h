// Session tokens at rest: the coordinator keeps and stores only the SHA-256
// of a client's session token, never the token itself, so a copied or leaked
// SQLite history cannot be used to impersonate a client.
//
// Threading: pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace murmur {

// Lower-case hex SHA-256 of `token` (64 characters).
std::string TokenDigest(std::string_view token);

// Whether `token` hashes to `digest`, compared in constant time (the time
// does not depend on where the digests differ).
bool TokenMatchesDigest(std::string_view token, std::string_view digest);

}  // namespace murmur
