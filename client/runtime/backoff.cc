#include "client/runtime/backoff.h"

#include <algorithm>
#include <cmath>

namespace murmur::client {

double Backoff::NextDelay() {
  const double base =
      std::min(options_.max_s, options_.initial_s * std::pow(options_.factor, std::min(attempt_, 60)));
  ++attempt_;
  const double j = std::clamp(options_.jitter, 0.0, 1.0);
  return base * rng_.Uniform(1.0 - j, 1.0 + j);
}

}  // namespace murmur::client
