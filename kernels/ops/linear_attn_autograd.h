// The shared core behind murmur's linear-attention ops: input validation,
// the device primitives (murmur::linear_attn_fwd / linear_attn_bwd, CPU and
// CUDA) and the autograd Function that ties forward to backward.
//
// Binding files (chunk_linear_attn_binding.cc, chunk_gla_binding.cc) check
// their op-specific arguments and call LinearAttn() here.
// Threading: stateless; safe from any thread.
#pragma once

#include <ATen/ATen.h>

#include <c10/util/Optional.h>
#include <string>
#include <tuple>

#include "kernels/linear_attn_params.h"

namespace murmur::kernels {

// Largest key/value head dimension the kernels accept (state in cache).
inline constexpr int64_t kMaxHeadDim = 256;

// Chunk length of the CPU kernels (64 by default). Tests shrink it so short
// sequences span many chunks. Not synchronized: set it before running ops.
int CpuChunkSize();
void SetCpuChunkSize(int chunk);

// Checks q, k, v (and an optional initial state) and throws a c10::Error
// whose message says what is wrong, in the op's name.
void CheckQkv(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
              const c10::optional<at::Tensor>& initial_state);
// Checks a log-gate tensor: floating, same device, finite and <= 0.
void CheckLogGate(const char* op, const char* name, const at::Tensor& g);

// The accumulator dtype for inputs of `dtype` (fp64 stays fp64, else fp32).
at::ScalarType AccumulatorType(at::ScalarType dtype);

// Runs the op with autograd. `gate` is the normalized log gate: undefined
// (kNone), [B,T,H] (kScalar) or [B,T,H,DK] (kPerDim); gradients flow back to
// it (and through it to whatever it was computed from).
std::tuple<at::Tensor, at::Tensor> LinearAttn(const at::Tensor& q, const at::Tensor& k,
                                              const at::Tensor& v, const at::Tensor& gate,
                                              GateKind kind, double scale,
                                              const c10::optional<at::Tensor>& initial_state,
                                              bool output_final_state);

}  // namespace murmur::kernels
