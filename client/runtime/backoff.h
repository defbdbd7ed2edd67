// Backoff: exponential backoff with jitter for retrying a coordinator that
// is unavailable. Delay n (0-based) is min(max_s, initial_s * factor^n),
// scaled by a uniform factor in [1 - jitter, 1 + jitter] so that many
// clients that lost the same coordinator do not come back in lockstep.
//
// Threading: not synchronized; owned by one loop.
#pragma once

#include "common/rng.h"

namespace murmur::client {

struct BackoffOptions {
  double initial_s = 0.5;
  double max_s = 30;
  double factor = 2;
  double jitter = 0.2;  // 0..1
};

class Backoff {
 public:
  Backoff(BackoffOptions options, Rng rng) : options_(options), rng_(std::move(rng)) {}
  // The next delay; each call grows the base delay.
  double NextDelay();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffOptions options_;
  Rng rng_;
  int attempt_ = 0;
};

}  // namespace murmur::client
