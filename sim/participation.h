// Participation heterogeneity as in the FedAU paper: each client n has a
// probability p_n of being available in a slot (a round in sync mode), and a
// pattern that realises it:
//   bernoulli  independent draws each slot, P(on) = p_n;
//   markov     a two-state chain with P(off->on) = a and
//              P(on->off) = a (1/p_n - 1), stationary distribution p_n; the
//              first slot is drawn from it (a is lowered to p_n / (1 - p_n)
//              when needed so both transitions stay probabilities);
//   cyclic     period P: on for L = max(1, round(P p_n)) consecutive slots
//              at a random phase, off for the rest;
//   always     on in every slot.
// Randomness is counter-based (a hash of seed, client and slot), so a
// client's pattern costs a few bytes, needs no Rng object, and does not
// depend on the order in which clients are asked.
//
// Threading: a pattern is a value; one thread advances it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/rng.h"
#include "common/status.h"

namespace murmur::sim {

enum class PatternKind { kBernoulli, kMarkov, kCyclic, kAlways };
Result<PatternKind> ParsePatternKind(std::string_view name);
std::string_view PatternKindName(PatternKind kind);

struct PatternOptions {
  PatternKind kind = PatternKind::kBernoulli;
  double markov_a = 0.05;  // P(off->on) of the markov pattern
  int cyclic_period = 20;  // P, in slots
};

// A uniform draw in [0, 1) from (seed, a, b): counter-based randomness.
double HashUniform(uint64_t seed, uint64_t a, uint64_t b);

class ParticipationPattern {
 public:
  ParticipationPattern() = default;
  ParticipationPattern(const PatternOptions& options, double p, uint64_t seed, uint32_t client);
  // Whether the client is available in `slot` (0, 1, 2, ... in order: the
  // markov chain moves one step per call).
  bool Next(uint64_t slot);
  double p() const { return p_; }

 private:
  PatternKind kind_ = PatternKind::kBernoulli;
  double p_ = 0;
  double up_ = 0;    // markov: P(off->on)
  double down_ = 0;  // markov: P(on->off)
  uint64_t seed_ = 0;
  uint32_t client_ = 0;
  uint32_t period_ = 1;
  uint32_t active_ = 1;
  uint32_t phase_ = 0;
  bool on_ = false;
  bool started_ = false;
};

// How p_n is chosen for each client.
enum class ProbabilityMode {
  kEqual,    // p_n = mean_p
  kUniform,  // p_n ~ Uniform(p_min, 2 mean_p - p_min), clamped to [p_min, 1]
  kData,     // FedAU: p_n = max(p_min, mean_p * C * <pi_n, m>), m ~ Dirichlet(0.1), capped at 1
};
Result<ProbabilityMode> ParseProbabilityMode(std::string_view name);

// p_n for each client. `label_dist` (kData only) holds each client's label
// distribution pi_n (each sums to 1); INVALID_ARGUMENT when kData has none.
Result<std::vector<double>> AssignProbabilities(ProbabilityMode mode, size_t num_clients,
                                                double mean_p, double p_min,
                                                const std::vector<std::vector<double>>& label_dist,
                                                Rng& rng);

}  // namespace murmur::sim
