#include "common/codec/tensor_codec.h"
#include "common/status.h"
// A comment that mentions #include "server/engine/round_engine.h" is not an include.
