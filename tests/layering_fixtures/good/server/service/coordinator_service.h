#pragma once
#include <grpcpp/support/server_callback.h>

#include "murmur/v1/coordinator.grpc.pb.h"
#include "server/engine/round_engine.h"
