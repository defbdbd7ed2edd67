// A grpc.health.v1.Health/Check call, for `murmurctl health` (container
// HEALTHCHECKs, systemd/Kubernetes probes): murmur-coordinator serves the
// standard health service on every listener (server/service/server_tuning.h).
//
// The call is made without the health proto: its request (string field 1)
// and response (enum field 1) are wire-identical to protobuf's StringValue
// and Int32Value, so the stock well-known types carry it.
// Thread-safe: a free function with no shared state.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

namespace murmur::tools {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

const char* HealthStatusName(int status);

struct HealthResult {
  bool ok = false;      // the call returned
  int status = 0;       // ServingStatus when ok
  std::string error;    // what failed otherwise (gRPC code and message)
};

// Asks `channel` for the status of `service` ("" = the whole server).
HealthResult CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::system_clock::time_point deadline);

}  // namespace murmur::tools
