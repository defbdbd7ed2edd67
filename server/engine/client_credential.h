// ClientCredential: what a client's name is bound to, as the engine sees it
// (RoundEngine::Register / RoundCore::Register keep only its SHA-256).
//
// A credential is tagged with where it came from, so the two kinds can never
// match each other: a client without a certificate cannot present, as its
// enrollment secret, the subject of a certificate some other client's name
// is bound to.
//   - an enrollment secret the client sends (RegisterRequest.enrollment_secret),
//     chosen or provisioned per client, at least kMinEnrollmentSecretBytes;
//   - the subject of the client's mTLS certificate (the service reads it
//     from the authenticated connection).
// An empty secret gives the empty credential (an anonymous registration,
// refused unless EngineConfig::require_credential is false).
//
// Threading: pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace murmur::server {

inline constexpr size_t kMinEnrollmentSecretBytes = 16;
inline constexpr size_t kMaxEnrollmentSecretBytes = 1024;

// "" for an empty secret; INVALID_ARGUMENT when shorter than
// kMinEnrollmentSecretBytes or longer than kMaxEnrollmentSecretBytes.
Result<std::string> CredentialFromEnrollmentSecret(const std::string& secret);

// The credential of a client authenticated by an mTLS certificate whose
// subject (common name) is `subject` (non-empty).
std::string CredentialFromCertificate(const std::string& subject);

}  // namespace murmur::server
