// Maps murmur::Status to grpc::Status at the service edge (same numbering).
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace murmur::server {

inline grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

}  // namespace murmur::server
