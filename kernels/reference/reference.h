// Plain-ATen reference implementations of causal linear attention, used by
// the tests (in fp64) and as the benchmark baselines. Differentiable through
// ordinary autograd. Inputs are time-first: q, k [B,T,H,DK], v [B,T,H,DV].
// Threading: pure functions, safe from any thread.
#pragma once

#include <ATen/ATen.h>

#include <tuple>

namespace murmur::kernels::reference {

// The recurrence itself, one step at a time: S_t = diag(a_t) S_{t-1} +
// k_t^T v_t, o_t = scale q_t S_t. `g` (log a) is undefined (no decay),
// [B,T,H] (scalar) or [B,T,H,DK] (per dim); `h0` [B,H,DK,DV] or undefined.
// Returns (o, S_T).
std::tuple<at::Tensor, at::Tensor> Recurrent(const at::Tensor& q, const at::Tensor& k,
                                             const at::Tensor& v, const at::Tensor& g,
                                             double scale, const at::Tensor& h0);

// The masked quadratic form: o = scale ((Q K^T) (.) D) V with
// D_ts = exp(b_t - b_s) for s <= t (b = cumulative log gate), zero above the
// diagonal. `g` undefined or [B,T,H]. O(T^2) time and memory.
at::Tensor Quadratic(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& g, double scale);

// Cumulative sum of outer products (no decay): materializes every state,
// T x DK x DV floats per batch-head.
at::Tensor CumsumOuter(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       double scale);

}  // namespace murmur::kernels::reference
