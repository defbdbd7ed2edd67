// RmsNorm: y = x / sqrt(mean(x^2 over the last dim) + eps) * weight.
//
// LibTorch 1.13 has no RMSNorm module; this is the one murmur's transformer
// uses before each sub-layer and on the attention output (TransNormer's
// NormAttention). One parameter, "weight" [dim], initialized to ones.
//
// On CPU fp32 it runs as one fused autograd function (one pass over each
// row forward, one backward, rows in parallel): built from ATen ops it took
// ~20 elementwise passes per norm, a quarter of a training step of the
// default image model. Other devices and dtypes use the ATen composite.
//
// Threading: a module instance is used by one thread at a time; RmsNormOp
// is reentrant.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace murmur::model {

// The normalization itself, differentiable in x and weight.
torch::Tensor RmsNormOp(const torch::Tensor& x, const torch::Tensor& weight, double eps);

class RmsNormImpl : public torch::nn::Module {
 public:
  explicit RmsNormImpl(int64_t dim, double eps = 1e-6) : eps_(eps) {
    weight = register_parameter("weight", torch::ones({dim}));
  }

  torch::Tensor forward(const torch::Tensor& x) { return RmsNormOp(x, weight, eps_); }

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

}  // namespace murmur::model
