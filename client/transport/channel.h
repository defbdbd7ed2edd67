// ConnectCoordinator: a CoordinatorApi session to a remote coordinator over
// gRPC, with the credentials that match the coordinator's configuration:
//   plaintext          no tls_ca (allowed only for a loopback address unless
//                      allow_insecure: the coordinator refuses plaintext
//                      beyond loopback without its own --insecure too)
//   TLS                tls_ca: verify the coordinator's certificate (CA PEM)
//   mTLS               tls_ca + tls_cert + tls_key: also present a client
//                      certificate (the coordinator's --tls-client-ca)
// Files are read at connect time; a missing or unreadable file is an error
// naming it. The header has no gRPC types, so the daemon's other files
// compile without gRPC.
//
// Threading: returns an independent session (see GrpcCoordinator).
#pragma once

#include <memory>
#include <string>

#include "common/api/coordinator_api.h"
#include "common/status.h"

namespace murmur::client {

struct ConnectOptions {
  std::string address = "127.0.0.1:7070";
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;  // overrides the name checked in the server certificate
  bool allow_insecure = false;
  double rpc_timeout_s = 60;
  int max_pull_attempts = 4;
  // gRPC's own reconnect backoff grows to 120 s by default: a daemon whose
  // coordinator restarted would fail fast ("failed to connect") for up to
  // that long after it is back. Capped here (the caller's own backoff, with
  // jitter, paces the retries).
  double max_reconnect_backoff_s = 5;
};

// True for 127.0.0.0/8, ::1 and "localhost" (with or without a port).
bool IsLoopbackAddress(const std::string& address);

Result<std::unique_ptr<api::CoordinatorApi>> ConnectCoordinator(const ConnectOptions& options);

// "plaintext", "tls" or "mtls", for logs.
std::string DescribeSecurity(const ConnectOptions& options);

}  // namespace murmur::client
