#include <grpcpp/client_context.h>
#include "sim/event_queue.h"  // VIOLATION client-includes-sim
