#include "server/service/coordinator_service.h"  // VIOLATION client-includes-server (no exceptions here)
