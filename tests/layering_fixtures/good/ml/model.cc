#include <torch/nn/module.h>

#include "kernels/ops/registration.h"
#include "ml/model.h"
