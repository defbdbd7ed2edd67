#include "client/transport/coordinator_client.h"
#include "server/engine/round_engine.h"
#include <sqlite3.h>  // VIOLATION sqlite-outside-store
