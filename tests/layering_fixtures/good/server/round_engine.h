#pragma once
#include "common/status.h"
#include "server/store/store.h"
#include "server/strategy/strategy.h"
