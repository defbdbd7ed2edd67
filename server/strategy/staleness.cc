#include "server/strategy/staleness.h"

#include <fmt/format.h>

#include <cmath>

namespace murmur::server::strategy {

Result<StalenessKind> ParseStalenessKind(std::string_view name) {
  if (name == "default") return StalenessKind::kDefault;
  if (name == "none" || name == "constant") return StalenessKind::kNone;
  if (name == "inv_sqrt") return StalenessKind::kInvSqrt;
  if (name == "polynomial") return StalenessKind::kPolynomial;
  if (name == "hinge") return StalenessKind::kHinge;
  return InvalidArgumentError(fmt::format(
      "unknown staleness discount '{}' (expected default, none, inv_sqrt, polynomial or hinge)",
      name));
}

std::string_view StalenessKindName(StalenessKind kind) {
  switch (kind) {
    case StalenessKind::kDefault: return "default";
    case StalenessKind::kNone: return "none";
    case StalenessKind::kInvSqrt: return "inv_sqrt";
    case StalenessKind::kPolynomial: return "polynomial";
    case StalenessKind::kHinge: return "hinge";
  }
  return "unknown";
}

StalenessConfig Resolve(StalenessConfig cfg, StalenessKind fallback) {
  if (cfg.kind == StalenessKind::kDefault) cfg.kind = fallback;
  return cfg;
}

Status Validate(const StalenessConfig& cfg) {
  switch (cfg.kind) {
    case StalenessKind::kPolynomial:
      if (!(std::isfinite(cfg.a) && cfg.a > 0)) {
        return InvalidArgumentError(
            fmt::format("polynomial staleness exponent a must be finite and > 0, got {}", cfg.a));
      }
      break;
    case StalenessKind::kHinge:
      if (!(std::isfinite(cfg.a) && cfg.a > 0) || !(std::isfinite(cfg.b) && cfg.b >= 0)) {
        return InvalidArgumentError(fmt::format(
            "hinge staleness needs a > 0 and b >= 0 (finite), got a={} b={}", cfg.a, cfg.b));
      }
      break;
    default:
      break;
  }
  return Status();
}

double StalenessWeight(const StalenessConfig& cfg, uint64_t tau) {
  const double t = static_cast<double>(tau);
  switch (cfg.kind) {
    case StalenessKind::kDefault:
    case StalenessKind::kNone: return 1.0;
    case StalenessKind::kInvSqrt: return 1.0 / std::sqrt(1.0 + t);
    case StalenessKind::kPolynomial: return std::pow(1.0 + t, -cfg.a);
    case StalenessKind::kHinge: return t <= cfg.b ? 1.0 : 1.0 / (cfg.a * (t - cfg.b) + 1.0);
  }
  return 1.0;
}

}  // namespace murmur::server::strategy
