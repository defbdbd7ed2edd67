// The limits and liveness settings every murmur gRPC listener is built with:
// a gRPC ResourceQuota (threads and memory for the whole server), a cap on
// concurrent streams per connection, HTTP/2 keepalive pings (dead peers are
// dropped; idle clients may ping no more often than the server allows), a
// cap on connection age, and the default health service
// (grpc.health.v1.Health, SERVING while the server runs).
//
// ApplyServerTuning is called on a builder before BuildAndStart; it is not
// synchronized (one builder, one thread).
#pragma once

#include <grpcpp/server_builder.h>

#include <cstdint>

#include "common/status.h"

namespace murmur::server {

struct ServerTuning {
  int max_threads = 256;            // gRPC threads of the server (ResourceQuota)
  uint64_t max_memory_mb = 2048;    // gRPC buffer memory of the server (ResourceQuota)
  int max_concurrent_streams = 64;  // per connection (HTTP/2 SETTINGS)
  int keepalive_time_s = 60;        // ping an idle connection after this long
  int keepalive_timeout_s = 20;     // and drop it when the ping is not answered in time
  int min_client_ping_interval_s = 10;  // a client pinging more often is cut off
  // Close a connection with no call for this long (0: never): idle edge
  // clients do not hold a descriptor each forever (gRPC reconnects on the
  // next call).
  int max_connection_idle_s = 900;
};

// Checks the values (all positive; idle 0 allowed): InvalidArgument naming
// the flag otherwise.
Status ValidateServerTuning(const ServerTuning& tuning);

// Sets the quota, channel arguments and the health service on `builder`.
// Call EnableHealthService() once before the first builder is created.
void ApplyServerTuning(const ServerTuning& tuning, grpc::ServerBuilder* builder);

// grpc::EnableDefaultHealthCheckService(true): process-wide, affects every
// server built after the call.
void EnableHealthService();

}  // namespace murmur::server
