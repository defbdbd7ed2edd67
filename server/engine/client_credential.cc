#include "server/engine/client_credential.h"

#include <fmt/format.h>

namespace murmur::server {

Result<std::string> CredentialFromEnrollmentSecret(const std::string& secret) {
  if (secret.empty()) return std::string();
  if (secret.size() < kMinEnrollmentSecretBytes || secret.size() > kMaxEnrollmentSecretBytes) {
    return InvalidArgumentError(
        fmt::format("enrollment secret must be {}..{} bytes (got {})", kMinEnrollmentSecretBytes,
                    kMaxEnrollmentSecretBytes, secret.size()));
  }
  return "enrollment-secret:" + secret;
}

std::string CredentialFromCertificate(const std::string& subject) {
  return "x509-common-name:" + subject;
}

}  // namespace murmur::server
