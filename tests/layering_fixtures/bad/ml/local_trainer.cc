#include "ml/model.h"
#include "server/engine/round_engine.h"  // VIOLATION ml-includes-server
