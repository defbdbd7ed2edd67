// Rng: murmur's seeded source of randomness.
//
// Every random choice in murmur (data partitions, participation, minibatch
// order, simulated delays) draws from an Rng built from a seed, so a run with
// the same seed is reproducible. The engine is std::mt19937_64, whose output
// the C++ standard fixes; the distributions are implemented here (the
// standard library's are implementation-defined), so streams are identical
// across compilers and standard libraries.
//
// Threading: an Rng is not synchronized. Give each thread or simulated client
// its own stream with Fork(stream_id), which is deterministic.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace murmur {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t seed() const { return seed_; }

  // An independent child stream; the same (seed, stream_id) always gives the
  // same child, and drawing from the parent does not change it.
  Rng Fork(uint64_t stream_id) const;

  uint64_t NextU64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n); unbiased. n must be > 0.
  uint64_t UniformInt(uint64_t n);
  bool Bernoulli(double p) { return Uniform() < p; }
  double Normal(double mean = 0.0, double stddev = 1.0);
  // Exponential with the given rate (mean 1/rate).
  double Exponential(double rate);
  // Gamma(shape, 1); shape > 0.
  double Gamma(double shape);
  // A draw from Dirichlet(alpha); every alpha > 0.
  std::vector<double> Dirichlet(std::span<const double> alpha);
  std::vector<double> Dirichlet(size_t k, double alpha);

  template <typename T>
  void Shuffle(std::span<T> items) {
    for (size_t i = items.size(); i > 1; --i) {
      size_t j = UniformInt(i);
      std::swap(items[i - 1], items[j]);
    }
  }
  template <typename T>
  void Shuffle(std::vector<T>& items) { Shuffle(std::span<T>(items)); }

 private:
  uint64_t seed_;
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// SplitMix64 finalizer: a good 64-bit mixing function (seed derivation).
uint64_t Mix64(uint64_t x);

}  // namespace murmur
