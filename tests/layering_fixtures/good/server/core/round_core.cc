#include "common/clock.h"
#include "server/strategy/strategy.h"
