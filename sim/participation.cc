#include "sim/participation.h"

#include <algorithm>
#include <cmath>

namespace murmur::sim {

Result<PatternKind> ParsePatternKind(std::string_view name) {
  if (name == "bernoulli") return PatternKind::kBernoulli;
  if (name == "markov") return PatternKind::kMarkov;
  if (name == "cyclic") return PatternKind::kCyclic;
  if (name == "always") return PatternKind::kAlways;
  return InvalidArgumentError("participation pattern '" + std::string(name) +
                              "' is not one of bernoulli, markov, cyclic, always");
}

std::string_view PatternKindName(PatternKind kind) {
  switch (kind) {
    case PatternKind::kBernoulli: return "bernoulli";
    case PatternKind::kMarkov: return "markov";
    case PatternKind::kCyclic: return "cyclic";
    case PatternKind::kAlways: return "always";
  }
  return "?";
}

double HashUniform(uint64_t seed, uint64_t a, uint64_t b) {
  const uint64_t h = Mix64(Mix64(Mix64(seed) ^ a) + 0x9e3779b97f4a7c15ULL * (b + 1));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

ParticipationPattern::ParticipationPattern(const PatternOptions& options, double p, uint64_t seed,
                                           uint32_t client)
    : kind_(options.kind), p_(std::clamp(p, 0.0, 1.0)), seed_(seed), client_(client) {
  if (kind_ == PatternKind::kMarkov && p_ > 0 && p_ < 1) {
    up_ = std::min(options.markov_a, p_ / (1 - p_));
    down_ = up_ * (1 / p_ - 1);
  }
  if (kind_ == PatternKind::kCyclic) {
    period_ = static_cast<uint32_t>(std::max(1, options.cyclic_period));
    active_ = std::clamp<uint32_t>(static_cast<uint32_t>(std::lround(period_ * p_)), 1, period_);
    phase_ = static_cast<uint32_t>(HashUniform(seed_, client_, ~uint64_t{0}) * period_);
  }
}

bool ParticipationPattern::Next(uint64_t slot) {
  const double u = HashUniform(seed_, client_, slot);
  switch (kind_) {
    case PatternKind::kAlways: return true;
    case PatternKind::kBernoulli: return u < p_;
    case PatternKind::kCyclic: return (slot + phase_) % period_ < active_;
    case PatternKind::kMarkov:
      if (p_ <= 0 || p_ >= 1) return p_ >= 1;
      if (!started_) {
        started_ = true;
        on_ = u < p_;
      } else {
        on_ = on_ ? u >= down_ : u < up_;
      }
      return on_;
  }
  return false;
}

Result<ProbabilityMode> ParseProbabilityMode(std::string_view name) {
  if (name == "equal") return ProbabilityMode::kEqual;
  if (name == "uniform") return ProbabilityMode::kUniform;
  if (name == "data") return ProbabilityMode::kData;
  return InvalidArgumentError("p_mode '" + std::string(name) +
                              "' is not one of equal, uniform, data");
}

Result<std::vector<double>> AssignProbabilities(ProbabilityMode mode, size_t num_clients,
                                                double mean_p, double p_min,
                                                const std::vector<std::vector<double>>& label_dist,
                                                Rng& rng) {
  if (!(mean_p > 0 && mean_p <= 1)) return InvalidArgumentError("mean_p must be in (0, 1]");
  if (!(p_min >= 0 && p_min <= mean_p)) return InvalidArgumentError("p_min must be in [0, mean_p]");
  std::vector<double> p(num_clients, mean_p);
  switch (mode) {
    case ProbabilityMode::kEqual: break;
    case ProbabilityMode::kUniform:
      for (double& x : p) x = std::clamp(rng.Uniform(p_min, 2 * mean_p - p_min), p_min, 1.0);
      break;
    case ProbabilityMode::kData: {
      if (label_dist.size() != num_clients || label_dist.empty() || label_dist[0].empty()) {
        return InvalidArgumentError(
            "p_mode = \"data\" needs each client's label distribution; this workload has none "
            "(use equal or uniform)");
      }
      const size_t classes = label_dist[0].size();
      const std::vector<double> m = rng.Dirichlet(classes, 0.1);
      for (size_t n = 0; n < num_clients; ++n) {
        double dot = 0;
        for (size_t c = 0; c < classes && c < label_dist[n].size(); ++c) dot += label_dist[n][c] * m[c];
        p[n] = std::clamp(mean_p * static_cast<double>(classes) * dot, std::max(p_min, 1e-6), 1.0);
      }
      break;
    }
  }
  return p;
}

}  // namespace murmur::sim
