#pragma once
#include <grpcpp/grpcpp.h>  // VIOLATION pure-layer-includes-grpc + grpc-outside-service-or-transport
#include "server/service/coordinator_service.h"  // VIOLATION pure-layer-includes-io
