#include "murmur/v1/coordinator.grpc.pb.h"  // VIOLATION grpc-outside-service-or-transport
