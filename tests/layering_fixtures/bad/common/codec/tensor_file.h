#pragma once
#include <ATen/ATen.h>  // VIOLATION common-includes-torch
#include "ml/parameters.h"  // VIOLATION common-includes-ml
#include "server/store/store.h"  // VIOLATION common-includes-server
#include "client/local_trainer.h"  // VIOLATION common-includes-client
#include <c10/core/ScalarType.h>  // VIOLATION common-includes-torch
