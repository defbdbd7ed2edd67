// Staleness discounts s(tau) for asynchronous strategies (AFA-CD, FedBuff,
// AFA+FedAU): how much an update computed from a model tau versions old
// still counts.
//
//   none / constant   s = 1
//   inv_sqrt          s = 1 / sqrt(1 + tau)            (FedBuff's choice)
//   polynomial        s = (1 + tau)^(-a),  a > 0
//   hinge             s = 1 if tau <= b, else 1 / (a * (tau - b) + 1)   (FedAsync)
// kDefault means "the strategy's own default" (FedBuff: inv_sqrt; the AFA
// rules: none, as in the paper).
//
// Plain values; pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace murmur::server::strategy {

enum class StalenessKind { kDefault, kNone, kInvSqrt, kPolynomial, kHinge };

struct StalenessConfig {
  StalenessKind kind = StalenessKind::kDefault;
  double a = 0.5;  // polynomial exponent; hinge slope
  double b = 4.0;  // hinge: staleness tolerated without discount
};

// "default", "none" (or "constant"), "inv_sqrt", "polynomial", "hinge".
Result<StalenessKind> ParseStalenessKind(std::string_view name);
std::string_view StalenessKindName(StalenessKind kind);

// kDefault replaced by `fallback`.
StalenessConfig Resolve(StalenessConfig cfg, StalenessKind fallback);

// INVALID_ARGUMENT when the parameters the kind uses are out of range.
Status Validate(const StalenessConfig& cfg);

// s(tau), in (0, 1]. `cfg` must be resolved and valid.
double StalenessWeight(const StalenessConfig& cfg, uint64_t tau);

}  // namespace murmur::server::strategy
