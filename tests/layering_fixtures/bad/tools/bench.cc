#include "ml/model.h"
