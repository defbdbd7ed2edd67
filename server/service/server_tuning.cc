#include "server/service/server_tuning.h"

#include <fmt/format.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <limits>

namespace murmur::server {

Status ValidateServerTuning(const ServerTuning& t) {
  auto positive = [](long long v, const char* flag) -> Status {
    if (v > 0) return Status::Ok();
    return InvalidArgumentError(fmt::format("{} must be positive (got {})", flag, v));
  };
  MURMUR_RETURN_IF_ERROR(positive(t.max_threads, "--max-threads"));
  MURMUR_RETURN_IF_ERROR(positive(static_cast<long long>(t.max_memory_mb), "--max-grpc-memory-mb"));
  if (t.max_memory_mb > (std::numeric_limits<size_t>::max() >> 21)) {
    return InvalidArgumentError(
        fmt::format("--max-grpc-memory-mb {} is too large", t.max_memory_mb));
  }
  MURMUR_RETURN_IF_ERROR(positive(t.max_concurrent_streams, "--max-streams-per-connection"));
  MURMUR_RETURN_IF_ERROR(positive(t.keepalive_time_s, "--keepalive-s"));
  MURMUR_RETURN_IF_ERROR(positive(t.keepalive_timeout_s, "--keepalive-timeout-s"));
  MURMUR_RETURN_IF_ERROR(positive(t.min_client_ping_interval_s, "min client ping interval"));
  if (t.max_connection_idle_s < 0) {
    return InvalidArgumentError("--max-connection-idle-s must be >= 0");
  }
  return Status::Ok();
}

void ApplyServerTuning(const ServerTuning& t, grpc::ServerBuilder* builder) {
  grpc::ResourceQuota quota("murmur-server");
  quota.SetMaxThreads(t.max_threads);
  quota.Resize(static_cast<size_t>(t.max_memory_mb) << 20);
  builder->SetResourceQuota(quota);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, t.max_concurrent_streams);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, t.keepalive_time_s * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, t.keepalive_timeout_s * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              t.min_client_ping_interval_s * 1000);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  if (t.max_connection_idle_s > 0) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, t.max_connection_idle_s * 1000);
  }
}

void EnableHealthService() { grpc::EnableDefaultHealthCheckService(true); }

}  // namespace murmur::server
