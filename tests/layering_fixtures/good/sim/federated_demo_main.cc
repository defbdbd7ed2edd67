#include <grpcpp/grpcpp.h>

#include "client/transport/coordinator_client.h"
#include "ml/local_trainer.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"
