#include "tools/health_check.h"

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>

#include <string>

namespace murmur::tools {

const char* HealthStatusName(int status) {
  switch (static_cast<HealthStatus>(status)) {
    case HealthStatus::kUnknown: return "UNKNOWN";
    case HealthStatus::kServing: return "SERVING";
    case HealthStatus::kNotServing: return "NOT_SERVING";
    case HealthStatus::kServiceUnknown: return "SERVICE_UNKNOWN";
  }
  return "unrecognized status";
}

HealthResult CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::system_clock::time_point deadline) {
  static const char kMethod[] = "/grpc.health.v1.Health/Check";
  google::protobuf::StringValue request;  // HealthCheckRequest{string service = 1}
  request.set_value(service);
  google::protobuf::Int32Value response;  // HealthCheckResponse{ServingStatus status = 1}
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  const grpc::internal::RpcMethod method(kMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel);
  grpc::Status s = grpc::internal::BlockingUnaryCall(channel.get(), method, &ctx, request, &response);
  HealthResult r;
  if (!s.ok()) {
    r.error = "code " + std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message();
    return r;
  }
  r.ok = true;
  r.status = response.value();
  return r;
}

}  // namespace murmur::tools
