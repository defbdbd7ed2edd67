#include "server/service/server_credentials.h"

#include <fmt/format.h>
#include <grpcpp/security/server_credentials.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace murmur::server {

Result<std::string> ReadPemFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string message =
        fmt::format("{} {}: cannot open: {}", what, path, std::strerror(err));
    if (err == ENOENT) return NotFoundError(std::move(message));
    return InvalidArgumentError(std::move(message));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgumentError(fmt::format("{} {}: read failed", what, path));
  std::string pem = text.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return InvalidArgumentError(
        fmt::format("{} {}: not a PEM file (no \"-----BEGIN\" line)", what, path));
  }
  return pem;
}

Result<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options) {
  if (!options.enabled()) return grpc::InsecureServerCredentials();
  if (options.cert_path.empty() || options.key_path.empty()) {
    return InvalidArgumentError(
        options.mutual() && options.cert_path.empty() && options.key_path.empty()
            ? "--tls-client-ca needs the server's own --tls-cert and --tls-key"
            : "--tls-cert and --tls-key go together: give both, or neither");
  }
  MURMUR_ASSIGN_OR_RETURN(std::string cert, ReadPemFile(options.cert_path, "--tls-cert"));
  MURMUR_ASSIGN_OR_RETURN(std::string key, ReadPemFile(options.key_path, "--tls-key"));
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (options.mutual()) {
    MURMUR_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                            ReadPemFile(options.client_ca_path, "--tls-client-ca"));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(ssl);
  if (!creds) {
    return InvalidArgumentError(fmt::format("--tls-cert {} / --tls-key {}: rejected by gRPC",
                                            options.cert_path, options.key_path));
  }
  return creds;
}

}  // namespace murmur::server
