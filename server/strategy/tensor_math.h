// Arithmetic the strategies share: a double-precision accumulator over a
// model's tensors, and checks on values.
//
// Strategies add weighted tensor lists into an Accumulator (in double) and
// write the result back as float once, so the order of clients does not move
// the result by more than double rounding.
//
// An Accumulator is a plain value, not synchronized; the free functions are
// pure and safe from any thread.
#pragma once

#include <string_view>
#include <vector>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur::server::strategy {

// OUT_OF_RANGE naming `what` and the first NaN/Inf found.
Status CheckFinite(const TensorList& tensors, std::string_view what);

// float(c * t), elementwise.
TensorList Scaled(const TensorList& t, double c);

class Accumulator {
 public:
  // Zeros shaped like `like` (the model's layout).
  explicit Accumulator(const TensorList& like);

  // acc += c * t. `t` must have the layout given to the constructor (the
  // caller has checked it against the model spec).
  void Add(const TensorList& t, double c);

  // float(double(x) + scale * acc), with x's names and shapes. `x` must have
  // the accumulator's layout.
  TensorList ApplyTo(const TensorList& x, double scale) const;

 private:
  std::vector<std::vector<double>> acc_;
};

}  // namespace murmur::server::strategy
