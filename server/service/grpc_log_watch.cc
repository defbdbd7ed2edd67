#include "server/service/grpc_log_watch.h"

#include <grpc/support/log.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "common/logging.h"

namespace murmur::server {
namespace {

std::atomic<bool> g_listener_lost{false};
std::mutex g_reason_mu;
std::string g_reason;  // guarded by g_reason_mu

void OnGrpcLog(gpr_log_func_args* args) {
  const char* message = args->message != nullptr ? args->message : "";
  const char* file = args->file != nullptr ? args->file : "";
  if (std::strstr(message, "Failed accept4") != nullptr) {
    std::lock_guard<std::mutex> lock(g_reason_mu);
    if (g_reason.empty()) g_reason = message;
    g_listener_lost.store(true);
  }
  const log::Level level = args->severity == GPR_LOG_SEVERITY_ERROR  ? log::Level::kError
                           : args->severity == GPR_LOG_SEVERITY_INFO ? log::Level::kInfo
                                                                     : log::Level::kDebug;
  log::Write(level, "grpc", {{"file", file}, {"line", args->line}, {"message", message}});
}

}  // namespace

void InstallGrpcLogWatch() { gpr_set_log_function(OnGrpcLog); }

bool GrpcListenerLost() { return g_listener_lost.load(); }

std::string GrpcListenerLossReason() {
  std::lock_guard<std::mutex> lock(g_reason_mu);
  return g_reason;
}

}  // namespace murmur::server
