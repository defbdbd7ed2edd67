#include <grpcpp/grpcpp.h>

#include "client/local_trainer.h"  // VIOLATION server-includes-client
#include "ml/model_config.h"  // VIOLATION server-includes-ml
#include <torch/torch.h>  // VIOLATION server-includes-torch
#include "server/engine/round_engine.h"
