#include "server/strategy/strategy.h"
#include "server/store/store.h"  // VIOLATION pure-layer-includes-io
#include <sqlite3.h>  // VIOLATION pure-layer-includes-sqlite + sqlite-outside-store
