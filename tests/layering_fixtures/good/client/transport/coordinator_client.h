#pragma once
#include <grpcpp/channel.h>

#include "murmur/v1/coordinator.grpc.pb.h"
