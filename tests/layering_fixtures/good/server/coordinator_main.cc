#include <grpcpp/grpcpp.h>

#include "common/codec/tensor_file.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"
