#include "client/transport/coordinator_client.h"
#include "server/round_engine.h"
#include <sqlite3.h>  // VIOLATION sqlite-outside-store
