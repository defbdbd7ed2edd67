#include <cmath>

#include "common/codec/tensor.h"
#include "server/strategy/strategy.h"
