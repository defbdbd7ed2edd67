// Named tensors: the unit that travels between clients and the coordinator.
//
// A model's parameters, an update (delta) and a global model version are all
// a TensorList: an ordered list of (name, shape, fp32 values). The order is
// part of the contract (the model defines it); names are unique. A ModelSpec
// is the names and shapes alone, used to validate what arrives.
//
// Plain values with no synchronization.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/status.h"

namespace murmur {

using Shape = std::vector<int64_t>;

struct Tensor {
  std::string name;
  Shape shape;
  std::vector<float> data;  // row-major, numel(shape) values

  int64_t numel() const;
};

using TensorList = std::vector<Tensor>;

struct TensorSpec {
  std::string name;
  Shape shape;
  friend bool operator==(const TensorSpec&, const TensorSpec&) = default;
};

using ModelSpec = std::vector<TensorSpec>;

// Product of dims (1 for a scalar, 0 if any dim is 0); INT64_MAX when a
// negative dim or an overflow makes it meaningless.
int64_t NumElements(const Shape& shape);
// "[3, 4]".
std::string ShapeString(const Shape& shape);

ModelSpec SpecOf(const TensorList& tensors);
int64_t TotalElements(const TensorList& tensors);

// OK when `tensors` has exactly the spec's names and shapes, in order, and
// each tensor's data size matches its shape; otherwise says the first
// difference ("tensor 2 is 'w1' but the model expects 'w2'").
Status CheckMatchesSpec(const TensorList& tensors, const ModelSpec& spec);

// A tensor of the given shape filled with zeros.
Tensor ZerosLike(const TensorSpec& spec);
TensorList ZerosLike(const ModelSpec& spec);

// Tensors of the given spec with N(0, stddev^2) values.
TensorList RandomNormal(const ModelSpec& spec, Rng& rng, double stddev = 1.0);

}  // namespace murmur
