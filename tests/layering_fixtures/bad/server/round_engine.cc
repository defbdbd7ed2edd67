#include "server/engine/round_engine.h"
#  include  <ATen/ATen.h>  // VIOLATION server-includes-torch (spaced)
#include "kernels/ops/registration.h"  // VIOLATION server-includes-kernels
