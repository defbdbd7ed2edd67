#include "ml/model.h"
#include "server/round_engine.h"  // VIOLATION ml-includes-server
