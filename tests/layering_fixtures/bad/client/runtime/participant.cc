#include "client/transport/coordinator_client.h"
#include "server/engine/round_engine.h"  // VIOLATION client-includes-server
#include <grpc/grpc.h>  // VIOLATION grpc-outside-service-or-transport
