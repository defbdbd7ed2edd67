// Plain parameter structs for the causal linear-attention kernels.
//
// Only the binding files (ops/) see at::Tensor: they validate inputs and fill
// these structs; the CPU and CUDA implementations see pointers and sizes.
// Layout is time-first and contiguous: q, k [B,T,H,DK], v, o [B,T,H,DV],
// gates [B,T,H] (scalar) or [B,T,H,DK] (per key dimension, GLA), states
// [B,H,DK,DV]. Gates are log decays (<= 0). States and accumulators use the
// accumulator type: fp32, or fp64 when the inputs are fp64 (gradcheck).
#pragma once

#include <cstddef>
#include <cstdint>

namespace murmur::kernels {

enum class GateKind : int {
  kNone = 0,    // plain causal linear attention
  kScalar = 1,  // one log decay per (b, t, h): [B,T,H]
  kPerDim = 2,  // one log decay per key dimension (GLA): [B,T,H,DK]
};

enum class DType : int { kFloat32 = 0, kBFloat16 = 1, kFloat64 = 2, kFloat16 = 3 };

struct LinearAttnForwardParams {
  int64_t B = 0, T = 0, H = 0, DK = 0, DV = 0;
  DType dtype = DType::kFloat32;  // of q, k, v, o
  GateKind gate = GateKind::kNone;
  float scale = 1.0f;
  int chunk = 64;

  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* g = nullptr;              // accumulator type; null for kNone
  const void* initial_state = nullptr;  // accumulator type; may be null
  void* o = nullptr;
  void* final_state = nullptr;          // accumulator type; may be null
  // CUDA only: device scratch of LinearAttnForwardCudaWorkspaceBytes(*this)
  // bytes (the binding takes it from PyTorch's caching allocator); null has
  // the kernels allocate it on the stream themselves.
  void* workspace = nullptr;
};

struct LinearAttnBackwardParams {
  LinearAttnForwardParams fwd;  // o / final_state unused
  const void* d_o = nullptr;            // like o
  const void* d_final_state = nullptr;  // accumulator type; may be null
  void* dq = nullptr;                   // like q
  void* dk = nullptr;
  void* dv = nullptr;
  void* dg = nullptr;                   // accumulator type, like g; may be null
  void* d_initial_state = nullptr;      // accumulator type; may be null
  // CUDA only: LinearAttnBackwardCudaWorkspaceBytes(*this) bytes, or null.
  void* workspace = nullptr;
};

// CPU implementations (kernels/cpu/).
void LinearAttnForwardCpu(const LinearAttnForwardParams& p);
void LinearAttnBackwardCpu(const LinearAttnBackwardParams& p);

// CUDA implementations (kernels/cuda/), built when nvcc is found. They run
// on the current device and `stream` (a cudaStream_t; null: the default
// stream) and throw std::invalid_argument for shapes they cannot run there.
void LinearAttnForwardCuda(const LinearAttnForwardParams& p, void* stream);
void LinearAttnBackwardCuda(const LinearAttnBackwardParams& p, void* stream);
size_t LinearAttnForwardCudaWorkspaceBytes(const LinearAttnForwardParams& p);
size_t LinearAttnBackwardCudaWorkspaceBytes(const LinearAttnBackwardParams& p);

}  // namespace murmur::kernels
