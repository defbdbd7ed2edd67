#include "common/rng.h"

#include <cassert>
#include <cmath>

namespace murmur {

uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Rng::Rng(uint64_t seed) : seed_(seed), engine_(Mix64(seed)) {}

Rng Rng::Fork(uint64_t stream_id) const {
  return Rng(Mix64(seed_ ^ Mix64(stream_id + 0x6A09E667F3BCC909ull)));
}

double Rng::Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

uint64_t Rng::UniformInt(uint64_t n) {
  assert(n > 0);
  // Lemire's multiply-shift with rejection of the biased low range.
  uint64_t x = engine_();
  __uint128_t m = static_cast<__uint128_t>(x) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t threshold = -n % n;
    while (low < threshold) {
      x = engine_();
      m = static_cast<__uint128_t>(x) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::Normal(double mean, double stddev) {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return mean + stddev * spare_normal_;
  }
  // Marsaglia polar method.
  double u, v, s;
  do {
    u = 2.0 * Uniform() - 1.0;
    v = 2.0 * Uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double f = std::sqrt(-2.0 * std::log(s) / s);
  spare_normal_ = v * f;
  has_spare_normal_ = true;
  return mean + stddev * u * f;
}

double Rng::Exponential(double rate) { return -std::log1p(-Uniform()) / rate; }

double Rng::Gamma(double shape) {
  assert(shape > 0);
  if (shape < 1.0) {
    // Boost to shape+1, then scale by U^(1/shape) (Marsaglia & Tsang).
    double u = Uniform();
    while (u == 0.0) u = Uniform();
    return Gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = Normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    double u = Uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::vector<double> Rng::Dirichlet(std::span<const double> alpha) {
  std::vector<double> out(alpha.size());
  double sum = 0.0;
  for (size_t i = 0; i < alpha.size(); ++i) {
    out[i] = Gamma(alpha[i]);
    sum += out[i];
  }
  if (sum <= 0.0) {
    // All draws underflowed (tiny alpha): put the mass on one coordinate.
    out.assign(alpha.size(), 0.0);
    if (!out.empty()) out[UniformInt(out.size())] = 1.0;
    return out;
  }
  for (double& x : out) x /= sum;
  return out;
}

std::vector<double> Rng::Dirichlet(size_t k, double alpha) {
  std::vector<double> a(k, alpha);
  return Dirichlet(a);
}

}  // namespace murmur
