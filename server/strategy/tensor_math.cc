#include "server/strategy/tensor_math.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace murmur::server::strategy {
namespace {

// float(v) without the undefined behaviour of an out-of-range conversion:
// overflow becomes +-Inf (NaN stays NaN), which CheckFinite then reports.
inline float ToFloat(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v >= -kMax && v <= kMax) return static_cast<float>(v);
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  return v > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
}

}  // namespace

Status CheckFinite(const TensorList& tensors, std::string_view what) {
  for (const Tensor& t : tensors) {
    for (size_t j = 0; j < t.data.size(); ++j) {
      if (!std::isfinite(t.data[j])) {
        return OutOfRangeError(fmt::format("{}: tensor '{}' has a non-finite value ({}) at index {}",
                                           what, t.name, t.data[j], j));
      }
    }
  }
  return Status();
}

TensorList Scaled(const TensorList& t, double c) {
  TensorList out = t;
  for (Tensor& x : out) {
    for (float& v : x.data) v = ToFloat(c * static_cast<double>(v));
  }
  return out;
}

Accumulator::Accumulator(const TensorList& like) {
  acc_.reserve(like.size());
  for (const Tensor& t : like) acc_.emplace_back(t.data.size(), 0.0);
}

void Accumulator::Add(const TensorList& t, double c) {
  for (size_t i = 0; i < acc_.size(); ++i) {
    std::vector<double>& a = acc_[i];
    const std::vector<float>& v = t[i].data;
    for (size_t j = 0; j < a.size(); ++j) a[j] += c * static_cast<double>(v[j]);
  }
}

TensorList Accumulator::ApplyTo(const TensorList& x, double scale) const {
  TensorList out;
  out.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    Tensor t{x[i].name, x[i].shape, {}};
    t.data.resize(x[i].data.size());
    const std::vector<double>& a = acc_[i];
    for (size_t j = 0; j < t.data.size(); ++j) {
      t.data[j] = ToFloat(static_cast<double>(x[i].data[j]) + scale * a[j]);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace murmur::server::strategy
