// TLS and mTLS for the coordinator's gRPC listeners, from configuration.
//
// TlsOptions names PEM files: the server's certificate chain and private key
// and, for mTLS, the CA that signs the clients' certificates. With a client
// CA a client must present a certificate signed by it (the handshake fails
// otherwise); without one the server authenticates itself only. No files at
// all means a plaintext listener (the caller decides whether that is allowed:
// see IsLoopbackAddress and murmur-coordinator's --insecure).
//
// Pure functions over files, safe from any thread.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace murmur::server {

struct TlsOptions {
  std::string cert_path;       // PEM certificate chain of the server
  std::string key_path;        // PEM private key of the server
  std::string client_ca_path;  // PEM CA bundle; non-empty: mTLS

  // True when any file is named (then cert and key are both required).
  bool enabled() const {
    return !cert_path.empty() || !key_path.empty() || !client_ca_path.empty();
  }
  bool mutual() const { return !client_ca_path.empty(); }
};

// The whole content of a PEM file; an error naming the flag and the file
// when it is missing, unreadable or holds no PEM block.
Result<std::string> ReadPemFile(const std::string& path, const char* what);

// Insecure credentials when `options` names no file; TLS credentials (mTLS
// with a client CA) otherwise. InvalidArgument for a certificate without a
// key or the other way round, or a client CA without both; NotFound /
// InvalidArgument naming the file for one that cannot be read.
Result<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

}  // namespace murmur::server
