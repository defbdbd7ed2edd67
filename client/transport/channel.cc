#include "client/transport/channel.h"

#include <algorithm>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "client/transport/grpc_coordinator.h"

namespace murmur::client {
namespace {

Result<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("cannot read {} {}", what, path));
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().empty()) return InvalidArgumentError(fmt::format("{} {} is empty", what, path));
  return s.str();
}

std::string HostOf(const std::string& address) {
  std::string a = address;
  if (const size_t scheme = a.find("://"); scheme != std::string::npos) a = a.substr(scheme + 3);
  for (std::string_view prefix : {"ipv4:", "ipv6:", "dns:"}) {
    if (a.rfind(prefix, 0) == 0) a = a.substr(prefix.size());
  }
  if (!a.empty() && a.front() == '[') return a.substr(1, a.find(']') - 1);
  const size_t colon = a.rfind(':');
  if (colon != std::string::npos && a.find(':') == colon) return a.substr(0, colon);
  return a;
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  const std::string host = HostOf(address);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string DescribeSecurity(const ConnectOptions& o) {
  if (o.tls_ca.empty()) return "plaintext";
  return o.tls_cert.empty() ? "tls" : "mtls";
}

Result<std::unique_ptr<api::CoordinatorApi>> ConnectCoordinator(const ConnectOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  if (!(o.max_reconnect_backoff_s > 0)) {
    return InvalidArgumentError("the maximum reconnect backoff must be > 0 seconds");
  }
  const int max_backoff_ms = static_cast<int>(std::min(o.max_reconnect_backoff_s, 3600.0) * 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, std::max(max_backoff_ms, 1));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::clamp(max_backoff_ms / 5, 1, 1000));
  // gRPC uses the "min reconnect backoff" as the minimum time one connection
  // attempt (TCP + TLS handshake) may take, not as a delay: a small value cuts
  // every mTLS handshake on a loaded machine short ("tcp handshaker
  // shutdown") and the channel never connects again. Keep it generous; the
  // retry pace comes from the initial/max backoff above.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20000);
  if (o.tls_ca.empty()) {
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      return InvalidArgumentError("--tls-cert/--tls-key need --tls-ca (the coordinator's CA)");
    }
    if (!IsLoopbackAddress(o.address) && !o.allow_insecure) {
      return InvalidArgumentError(fmt::format(
          "refusing plaintext to {} (not loopback): give --tls-ca, or --insecure to allow it",
          o.address));
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    MURMUR_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(o.tls_ca, "--tls-ca"));
    if (o.tls_cert.empty() != o.tls_key.empty()) {
      return InvalidArgumentError("--tls-cert and --tls-key go together (mTLS)");
    }
    if (!o.tls_cert.empty()) {
      MURMUR_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(o.tls_cert, "--tls-cert"));
      MURMUR_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(o.tls_key, "--tls-key"));
    }
    creds = grpc::SslCredentials(ssl);
    if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  }
  auto channel = grpc::CreateCustomChannel(o.address, creds, args);
  GrpcCoordinatorOptions go;
  go.rpc_timeout_s = o.rpc_timeout_s;
  go.max_pull_attempts = o.max_pull_attempts;
  return std::unique_ptr<api::CoordinatorApi>(std::make_unique<GrpcCoordinator>(channel, go));
}

}  // namespace murmur::client
