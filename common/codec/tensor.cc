#include "common/codec/tensor.h"

#include <fmt/format.h>

#include <limits>

namespace murmur {

int64_t NumElements(const Shape& shape) {
  for (int64_t d : shape) {
    if (d == 0) return 0;  // [huge, huge, 0] is empty, not an overflow
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  }
  return n;
}

int64_t Tensor::numel() const { return NumElements(shape); }

std::string ShapeString(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

ModelSpec SpecOf(const TensorList& tensors) {
  ModelSpec spec;
  spec.reserve(tensors.size());
  for (const Tensor& t : tensors) spec.push_back({t.name, t.shape});
  return spec;
}

int64_t TotalElements(const TensorList& tensors) {
  int64_t n = 0;
  for (const Tensor& t : tensors) n += t.numel();
  return n;
}

Status CheckMatchesSpec(const TensorList& tensors, const ModelSpec& spec) {
  if (tensors.size() != spec.size()) {
    return InvalidArgumentError(fmt::format("has {} tensors but the model has {}",
                                            tensors.size(), spec.size()));
  }
  for (size_t i = 0; i < spec.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.name != spec[i].name) {
      return InvalidArgumentError(fmt::format("tensor {} is '{}' but the model expects '{}'", i,
                                              t.name, spec[i].name));
    }
    if (t.shape != spec[i].shape) {
      return InvalidArgumentError(fmt::format("tensor '{}' has shape {} but the model expects {}",
                                              t.name, ShapeString(t.shape),
                                              ShapeString(spec[i].shape)));
    }
    if (static_cast<int64_t>(t.data.size()) != t.numel()) {
      return InvalidArgumentError(fmt::format("tensor '{}' has {} values but its shape {} needs {}",
                                              t.name, t.data.size(), ShapeString(t.shape),
                                              t.numel()));
    }
  }
  return Status();
}

Tensor ZerosLike(const TensorSpec& spec) {
  return Tensor{spec.name, spec.shape, std::vector<float>(NumElements(spec.shape), 0.0f)};
}

TensorList ZerosLike(const ModelSpec& spec) {
  TensorList out;
  out.reserve(spec.size());
  for (const TensorSpec& s : spec) out.push_back(ZerosLike(s));
  return out;
}

TensorList RandomNormal(const ModelSpec& spec, Rng& rng, double stddev) {
  TensorList out = ZerosLike(spec);
  for (Tensor& t : out) {
    for (float& v : t.data) v = static_cast<float>(rng.Normal(0.0, stddev));
  }
  return out;
}

}  // namespace murmur
