#include "client/transport/coordinator_client.h"
#include "common/api/coordinator_api.h"
#include "ml/local_trainer.h"
