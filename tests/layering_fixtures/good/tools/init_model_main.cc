#include "common/codec/tensor_file.h"
#include "ml/local_trainer.h"
