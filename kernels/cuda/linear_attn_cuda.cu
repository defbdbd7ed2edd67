// CUDA implementation of chunked causal linear attention (plain, scalar
// decay, per-dimension GLA gates), forward and backward.
//
// Chunk-parallel, as in KERNELS.md: the sequence is cut into chunks of C=64
// and every (batch, head, chunk) is one thread block, so a B=4, H=4, T=4096
// call runs 1,024 blocks rather than 16 sequential walks. Only the state
// recurrence is sequential, and it is elementwise:
//   forward   1. ChunkUpdate: per chunk, dS_n = (K e^(G-b))^T V and G_n
//             2. Scan:        S_{n+1} = e^(G_n) S_n + dS_n, one thread per
//                state element, every S_n kept (one state per chunk)
//             3. ChunkOutput: O_n = scale ((Q e^b) S_n + ((Q K^T) (.) D) V)
//   backward  1-2 again for the S_n, then
//             4. ChunkDState: per chunk, scale (Q e^b)^T dO
//             5. the same scan in reverse: gradient of every S_{n+1}; dh0
//             6. ChunkGrad:   dq, dk, dv of the chunk, and the chunk-local
//                reverse cumsum of (q . dq - k . dk) for the gate gradient
//             7. GateOffsetScan + GateGradFinish: add the later chunks' sums
//                and <dS_T, S_T> (dlog a_t = sum_{t' >= t} (...) + <dS_T, S_T>)
// A chunk of q, k, v (and dO) is staged in shared memory as fp32; the intra-
// chunk matrix A_ts = sum_d q_td k_sd exp(b_td - b_sd) (s <= t) is formed
// with the exponent masked before exp, so every exponent is <= 0 for all
// gate kinds. States, accumulators and gate gradients are fp32.
// Only LinearAttn{Forward,Backward}Cuda and their *WorkspaceBytes are
// visible; they see params only. Threading: callable from any host thread;
// the work is queued on the given stream and returns before it runs.
//
// The same source also compiles as C++ under kernels/cuda/cuda_emulation.h
// (MURMUR_CUDA_EMULATION): blocks of std::threads with a barrier and a
// shared-memory buffer, so the kernels' logic is tested on machines without
// a GPU (linear_attn_cuda_emulated_test.cc). Hence the launch and the dynamic
// shared memory go through Launch() and MURMUR_DYNAMIC_SMEM below.
#ifndef MURMUR_CUDA_EMULATION
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#define MURMUR_DYNAMIC_SMEM(name) extern __shared__ float name[]
#endif

#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernels/linear_attn_params.h"

namespace murmur::kernels {
namespace {

constexpr int kThreads = 256;
// Largest head dim the kernels take: GateOffsetScanKernel's static shared
// array and the shared-memory budget below are sized for it.
constexpr int kMaxCudaHeadDim = 128;

// kernel<<<blocks, kThreads, smem, stream>>>(args...), or its CPU emulation.
template <typename... Params, typename... Args>
void Launch(void (*kernel)(Params...), int64_t blocks, size_t smem, cudaStream_t stream,
            Args... args) {
  if (blocks < 1 || blocks > 0x7fffffff) {
    throw std::invalid_argument("murmur CUDA kernel: " + std::to_string(blocks) +
                                " blocks is outside a grid's range [1, 2^31 - 1]");
  }
#ifdef MURMUR_CUDA_EMULATION
  (void)stream;
  cuda_emulation::Run(reinterpret_cast<const void*>(kernel), blocks, kThreads, smem,
                      [&] { kernel(args...); });
#else
  kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(args...);
#endif
}

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("murmur CUDA kernel: ") + what + ": " +
                             cudaGetErrorString(e));
  }
}

__device__ __forceinline__ float ToF(float x) { return x; }
__device__ __forceinline__ float ToF(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T>
__device__ __forceinline__ T FromF(float x);
template <>
__device__ __forceinline__ float FromF<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 FromF<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

struct Dims {
  int64_t T, H, DK, DV;
  int C;
  int64_t N;  // chunks: ceil(T / C)
  GateKind gate;
  float scale;
};

__device__ __forceinline__ int64_t Row(const Dims& d, int64_t b, int64_t t, int64_t h,
                                       int64_t width) {
  return ((b * d.T + t) * d.H + h) * width;
}

// Shared-memory layout of one chunk. The forward kernels' layout stops
// before dO and dA (Smem::kForward), the backward ones carry them too.
struct Smem {
  enum Layout { kForward, kBackward };
  float* Q;   // [C, DK]
  float* K;   // [C, DK]
  float* V;   // [C, DV]
  float* A;   // [C, C]
  float* b;   // [C, DK] cumulative log gates (scalar: column 0)
  float* G;   // [DK] chunk totals
  float* r;   // [C] scratch
  float* dO;  // [C, DV] (backward layout only)
  float* dA;  // [C, C] (backward layout only)
};

__device__ Smem CarveSmem(float* base, const Dims& d) {
  Smem s;
  const int C = d.C;
  s.Q = base;
  s.K = s.Q + C * d.DK;
  s.V = s.K + C * d.DK;
  s.A = s.V + C * d.DV;
  s.b = s.A + C * C;
  s.G = s.b + C * d.DK;
  s.r = s.G + d.DK;
  s.dO = s.r + C;
  s.dA = s.dO + C * d.DV;
  return s;
}

size_t SmemBytes(const Dims& d, Smem::Layout layout) {
  const int64_t C = d.C;
  const int64_t forward = 2 * C * d.DK + C * d.DV + C * C + C * d.DK + d.DK + C;
  return sizeof(float) * (layout == Smem::kForward ? forward : forward + C * d.DV + C * C);
}

template <typename in_t>
__device__ void LoadTile(const in_t* src, const Dims& d, int64_t b, int64_t h, int64_t t0, int L,
                         int64_t width, float* dst) {
  for (int idx = threadIdx.x; idx < L * width; idx += blockDim.x) {
    const int i = idx / width, c = idx % width;
    dst[idx] = ToF(src[Row(d, b, t0 + i, h, width) + c]);
  }
}

// Chunk-local cumulative log gates and totals.
__device__ void LoadGates(const float* g, const Dims& d, int64_t b, int64_t h, int64_t t0, int L,
                          Smem& s) {
  if (d.gate == GateKind::kNone) return;
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float run = 0.f;
    for (int i = 0; i < L; ++i) {
      run += g[Row(d, b, t0 + i, h, cols) + c];
      s.b[i * d.DK + c] = run;
    }
    s.G[c] = run;
  }
}

// Decay factors for key dim c, e^(exponent) with every exponent <= 0; a
// compile-time 1 without a gate, so plain attention runs no exp at all.
// Between rows t >= sr:
template <GateKind G>
__device__ __forceinline__ float DecayBetween(const Smem& s, const Dims& d, int t, int sr, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    const int cc = G == GateKind::kPerDim ? c : 0;
    return __expf(s.b[t * d.DK + cc] - s.b[sr * d.DK + cc]);
  }
}
// From the chunk start to row t (inclusive):
template <GateKind G>
__device__ __forceinline__ float DecayFromStart(const Smem& s, const Dims& d, int t, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    return __expf(s.b[t * d.DK + (G == GateKind::kPerDim ? c : 0)]);
  }
}
// From row t to the chunk end:
template <GateKind G>
__device__ __forceinline__ float DecayToEnd(const Smem& s, const Dims& d, int t, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    const int cc = G == GateKind::kPerDim ? c : 0;
    return __expf(s.G[cc] - s.b[t * d.DK + cc]);
  }
}
// The chunk's total log decay (not exponentiated).
template <GateKind G>
__device__ __forceinline__ float LogTotal(const Smem& s, int c) {
  if constexpr (G == GateKind::kNone) {
    return 0.f;
  } else {
    return s.G[G == GateKind::kPerDim ? c : 0];
  }
}
// The part of the decay between rows that depends on the key dim: all of it
// for GLA; for a scalar gate it is folded into A and dA once per (t, sr).
template <GateKind G>
__device__ __forceinline__ float DecayPerDim(const Smem& s, const Dims& d, int t, int sr, int c) {
  if constexpr (G == GateKind::kPerDim) {
    return DecayBetween<G>(s, d, t, sr, c);
  } else {
    return 1.f;
  }
}

// A_ts = sum_d q_td k_sd e^(b_td - b_sd) for s <= t, else 0 (unscaled).
template <GateKind G>
__device__ void BuildA(const Smem& s, const Dims& d, int L) {
  for (int idx = threadIdx.x; idx < L * L; idx += blockDim.x) {
    const int t = idx / L, sr = idx % L;
    float acc = 0.f;
    if (sr <= t) {
      for (int c = 0; c < d.DK; ++c) {
        acc += s.Q[t * d.DK + c] * s.K[sr * d.DK + c] * DecayPerDim<G>(s, d, t, sr, c);
      }
      if constexpr (G == GateKind::kScalar) acc *= DecayBetween<G>(s, d, t, sr, 0);
    }
    s.A[t * d.C + sr] = acc;
  }
}

// The block's chunk: batch-head bh, chunk n, rows [t0, t0 + L).
struct ChunkPos {
  int64_t bh, b, h, n, t0;
  int L;
};

__device__ __forceinline__ ChunkPos ThisChunk(const Dims& d) {
  ChunkPos c;
  c.bh = blockIdx.x / d.N;
  c.n = blockIdx.x % d.N;
  c.b = c.bh / d.H;
  c.h = c.bh % d.H;
  c.t0 = c.n * d.C;
  c.L = static_cast<int>(d.T - c.t0 < d.C ? d.T - c.t0 : d.C);
  return c;
}

// Workspace layouts, per batch-head: states [N + 1][DK * DV] (slot n is the
// state at the start of chunk n, slot N the final state; slot n + 1 first
// holds chunk n's update), chunk log-decay totals [N][DK].
template <typename F>  // float or const float
__device__ __forceinline__ F* StateSlot(F* states, const Dims& d, int64_t bh, int64_t n) {
  return states + (bh * (d.N + 1) + n) * d.DK * d.DV;
}

// Rows of a [C, DK] tile times their decay, in place: e^(G - b_t) (to the
// chunk end) or e^(b_t) (from its start). One exp per element here instead
// of one per multiply-add in the loops that use the decayed rows. The caller
// syncs before and after; without a gate there is nothing to do.
template <GateKind G, bool kToEnd>
__device__ void DecayRowsInPlace(const Smem& s, const Dims& d, int L, float* X) {
  if constexpr (G != GateKind::kNone) {
    for (int idx = threadIdx.x; idx < L * d.DK; idx += blockDim.x) {
      const int t = idx / d.DK, k = idx % d.DK;
      X[idx] *= kToEnd ? DecayToEnd<G>(s, d, t, k) : DecayFromStart<G>(s, d, t, k);
    }
  }
}

// 1. Slot n + 1 <- (K e^(G-b))^T V for this chunk; gam[n] <- G (0 without gates).
template <typename in_t, GateKind G>
__global__ void ChunkUpdateKernel(LinearAttnForwardParams p, Dims d, float* states, float* gam) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const ChunkPos c = ThisChunk(d);
  LoadTile(static_cast<const in_t*>(p.k), d, c.b, c.h, c.t0, c.L, d.DK, s.K);
  LoadTile(static_cast<const in_t*>(p.v), d, c.b, c.h, c.t0, c.L, d.DV, s.V);
  LoadGates(static_cast<const float*>(p.g), d, c.b, c.h, c.t0, c.L, s);
  __syncthreads();
  if constexpr (G != GateKind::kNone) {
    DecayRowsInPlace<G, /*kToEnd=*/true>(s, d, c.L, s.K);
    __syncthreads();
  }
  float* out = StateSlot(states, d, c.bh, c.n + 1);
  for (int idx = threadIdx.x; idx < d.DK * d.DV; idx += blockDim.x) {
    const int k = idx / d.DV, j = idx % d.DV;
    float acc = 0.f;
    for (int i = 0; i < c.L; ++i) acc += s.K[i * d.DK + k] * s.V[i * d.DV + j];
    out[idx] = acc;
  }
  for (int k = threadIdx.x; k < d.DK; k += blockDim.x) {
    gam[(c.bh * d.N + c.n) * d.DK + k] = LogTotal<G>(s, k);
  }
}

// 2 and 5. The elementwise recurrence over the chunks' slots, one thread per
// state element. Forward (states): slot 0 <- h0 (or 0), then in chunk order
// slot n + 1 <- e^(G_n) slot n + slot n + 1 (which held chunk n's update).
// Reverse (dstates): slot N <- dS_T (or 0), then slot n <- e^(G_n) slot n + 1
// + slot n (which held chunk n's dS term), so slot n + 1 ends as the
// gradient of the state after chunk n. `last` (may be null) gets the final
// value: the final state, or the gradient of h0.
template <bool kReverse>
__global__ void ScanKernel(Dims d, const float* first, float* slots, const float* gam,
                           float* last) {
  const int64_t elems = d.DK * d.DV;
  const int64_t tiles = (elems + blockDim.x - 1) / blockDim.x;
  const int64_t bh = blockIdx.x / tiles;
  const int64_t idx = (blockIdx.x % tiles) * blockDim.x + threadIdx.x;
  if (idx >= elems) return;
  const int64_t k = idx / d.DV;
  float value = first != nullptr ? first[bh * elems + idx] : 0.f;
  StateSlot(slots, d, bh, kReverse ? d.N : 0)[idx] = value;
  for (int64_t i = 0; i < d.N; ++i) {
    const int64_t n = kReverse ? d.N - 1 - i : i;  // the chunk this step crosses
    float* slot = StateSlot(slots, d, bh, kReverse ? n : n + 1) + idx;
    value = __expf(gam[(bh * d.N + n) * d.DK + k]) * value + *slot;
    *slot = value;
  }
  if (last != nullptr) last[bh * elems + idx] = value;
}

// 3. O = scale ((Q e^b) S_n + A V) for this chunk.
template <typename in_t, GateKind G>
__global__ void ChunkOutputKernel(LinearAttnForwardParams p, Dims d, const float* states) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const ChunkPos c = ThisChunk(d);
  LoadTile(static_cast<const in_t*>(p.q), d, c.b, c.h, c.t0, c.L, d.DK, s.Q);
  LoadTile(static_cast<const in_t*>(p.k), d, c.b, c.h, c.t0, c.L, d.DK, s.K);
  LoadTile(static_cast<const in_t*>(p.v), d, c.b, c.h, c.t0, c.L, d.DV, s.V);
  LoadGates(static_cast<const float*>(p.g), d, c.b, c.h, c.t0, c.L, s);
  __syncthreads();
  BuildA<G>(s, d, c.L);
  __syncthreads();
  if constexpr (G != GateKind::kNone) {  // Q is used decayed from here on
    DecayRowsInPlace<G, /*kToEnd=*/false>(s, d, c.L, s.Q);
    __syncthreads();
  }
  const float* S = StateSlot(states, d, c.bh, c.n);
  in_t* o = static_cast<in_t*>(p.o);
  for (int idx = threadIdx.x; idx < c.L * d.DV; idx += blockDim.x) {
    const int t = idx / d.DV, j = idx % d.DV;
    float acc = 0.f;
    for (int k = 0; k < d.DK; ++k) acc += s.Q[t * d.DK + k] * S[k * d.DV + j];
    for (int sr = 0; sr <= t; ++sr) acc += s.A[t * d.C + sr] * s.V[sr * d.DV + j];
    o[Row(d, c.b, c.t0 + t, c.h, d.DV) + j] = FromF<in_t>(d.scale * acc);
  }
}

// 4. Slot n of dstates <- scale (Q e^b)^T dO for this chunk.
template <typename in_t, GateKind G>
__global__ void ChunkDStateKernel(LinearAttnBackwardParams bp, Dims d, float* dstates) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const ChunkPos c = ThisChunk(d);
  LoadTile(static_cast<const in_t*>(bp.fwd.q), d, c.b, c.h, c.t0, c.L, d.DK, s.Q);
  LoadTile(static_cast<const in_t*>(bp.d_o), d, c.b, c.h, c.t0, c.L, d.DV, s.dO);
  LoadGates(static_cast<const float*>(bp.fwd.g), d, c.b, c.h, c.t0, c.L, s);
  __syncthreads();
  if constexpr (G != GateKind::kNone) {
    DecayRowsInPlace<G, /*kToEnd=*/false>(s, d, c.L, s.Q);
    __syncthreads();
  }
  float* out = StateSlot(dstates, d, c.bh, c.n);
  for (int idx = threadIdx.x; idx < d.DK * d.DV; idx += blockDim.x) {
    const int k = idx / d.DV, j = idx % d.DV;
    float acc = 0.f;
    for (int t = 0; t < c.L; ++t) acc += s.Q[t * d.DK + k] * s.dO[t * d.DV + j];
    out[idx] = d.scale * acc;
  }
}

// 6. dq, dk, dv of this chunk from S_n (states slot n) and the gradient of
// the state after it (dstates slot n + 1). With gates, dg gets the chunk-
// local reverse cumsum of r_t = q_t . dq_t - k_t . dk_t (per key dim for
// GLA) and `totals` the chunk's sum. A scalar gate's r_t is summed over the
// key dims from `terms` ([C, DK] per chunk) in a fixed order, so dg is the
// same bit for bit from run to run (no float atomics).
template <typename in_t, GateKind G>
__global__ void ChunkGradKernel(LinearAttnBackwardParams bp, Dims d, const float* states,
                                const float* dstates, float* totals, float* terms) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const ChunkPos c = ThisChunk(d);
  const LinearAttnForwardParams& p = bp.fwd;
  LoadTile(static_cast<const in_t*>(p.q), d, c.b, c.h, c.t0, c.L, d.DK, s.Q);
  LoadTile(static_cast<const in_t*>(p.k), d, c.b, c.h, c.t0, c.L, d.DK, s.K);
  LoadTile(static_cast<const in_t*>(p.v), d, c.b, c.h, c.t0, c.L, d.DV, s.V);
  LoadTile(static_cast<const in_t*>(bp.d_o), d, c.b, c.h, c.t0, c.L, d.DV, s.dO);
  LoadGates(static_cast<const float*>(p.g), d, c.b, c.h, c.t0, c.L, s);
  __syncthreads();
  BuildA<G>(s, d, c.L);
  // dA = scale (dO V^T), masked; with a scalar gate already times the
  // decay e^(b_t - b_sr), the factor dq and dk need for each (t, sr).
  for (int idx = threadIdx.x; idx < c.L * c.L; idx += blockDim.x) {
    const int t = idx / c.L, sr = idx % c.L;
    float acc = 0.f;
    if (sr <= t) {
      for (int j = 0; j < d.DV; ++j) acc += s.dO[t * d.DV + j] * s.V[sr * d.DV + j];
      if constexpr (G == GateKind::kScalar) acc *= DecayBetween<G>(s, d, t, sr, 0);
    }
    s.dA[t * d.C + sr] = d.scale * acc;
  }
  __syncthreads();
  const float* Sn = StateSlot(states, d, c.bh, c.n);
  const float* dS = StateSlot(dstates, d, c.bh, c.n + 1);
  const bool gate_grad = d.gate != GateKind::kNone && bp.dg != nullptr;
  float* dg = static_cast<float*>(bp.dg);
  float* chunk_terms = terms + (c.bh * d.N + c.n) * d.C * d.DK;
  in_t* dqo = static_cast<in_t*>(bp.dq);
  in_t* dko = static_cast<in_t*>(bp.dk);
  for (int idx = threadIdx.x; idx < c.L * d.DK; idx += blockDim.x) {
    const int t = idx / d.DK, k = idx % d.DK;
    float inter = 0.f;
    for (int j = 0; j < d.DV; ++j) inter += s.dO[t * d.DV + j] * Sn[k * d.DV + j];
    float dq = d.scale * DecayFromStart<G>(s, d, t, k) * inter;
    for (int sr = 0; sr <= t; ++sr) dq += s.dA[t * d.C + sr] * s.K[sr * d.DK + k] * DecayPerDim<G>(s, d, t, sr, k);
    float kin = 0.f;
    for (int j = 0; j < d.DV; ++j) kin += s.V[t * d.DV + j] * dS[k * d.DV + j];
    float dk = DecayToEnd<G>(s, d, t, k) * kin;
    for (int tt = t; tt < c.L; ++tt) dk += s.dA[tt * d.C + t] * s.Q[tt * d.DK + k] * DecayPerDim<G>(s, d, tt, t, k);
    dqo[Row(d, c.b, c.t0 + t, c.h, d.DK) + k] = FromF<in_t>(dq);
    dko[Row(d, c.b, c.t0 + t, c.h, d.DK) + k] = FromF<in_t>(dk);
    if (gate_grad) {
      const float r = s.Q[t * d.DK + k] * dq - s.K[t * d.DK + k] * dk;
      if constexpr (G == GateKind::kPerDim) {
        dg[Row(d, c.b, c.t0 + t, c.h, d.DK) + k] = r;
      } else {
        chunk_terms[t * d.DK + k] = r;
      }
    }
  }
  if constexpr (G != GateKind::kNone) {  // K is used decayed from here on
    __syncthreads();
    DecayRowsInPlace<G, /*kToEnd=*/true>(s, d, c.L, s.K);
    __syncthreads();
  }
  in_t* dvo = static_cast<in_t*>(bp.dv);
  for (int idx = threadIdx.x; idx < c.L * d.DV; idx += blockDim.x) {
    const int sr = idx / d.DV, j = idx % d.DV;
    float acc = 0.f;
    for (int k = 0; k < d.DK; ++k) acc += s.K[sr * d.DK + k] * dS[k * d.DV + j];
    for (int t = sr; t < c.L; ++t) acc += d.scale * s.A[t * d.C + sr] * s.dO[t * d.DV + j];
    dvo[Row(d, c.b, c.t0 + sr, c.h, d.DV) + j] = FromF<in_t>(acc);
  }
  if (!gate_grad) return;
  __syncthreads();  // r complete in dg (per dim) or chunk_terms (scalar)
  if constexpr (G == GateKind::kScalar) {
    for (int t = threadIdx.x; t < c.L; t += blockDim.x) {
      float r = 0.f;
      for (int k = 0; k < d.DK; ++k) r += chunk_terms[t * d.DK + k];
      s.r[t] = r;
    }
    __syncthreads();
  }
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  for (int k = threadIdx.x; k < cols; k += blockDim.x) {
    float run = 0.f;
    for (int t = c.L - 1; t >= 0; --t) {
      float* out = dg + Row(d, c.b, c.t0 + t, c.h, cols) + k;
      run += d.gate == GateKind::kPerDim ? *out : s.r[t];
      *out = run;
    }
    totals[(c.bh * d.N + c.n) * cols + k] = run;
  }
}

// 7a. Per batch-head and gate column: totals[n] <- <dS_T, S_T> + the sum of
// totals of the chunks after n (exclusive reverse scan over chunks).
__global__ void GateOffsetScanKernel(Dims d, const float* dht, const float* states,
                                     float* totals) {
  // <dS_T, S_T> per key dim, then summed over them for a scalar gate, each
  // in a fixed order (no float atomics: dg is reproducible).
  __shared__ float final_term[kMaxCudaHeadDim];
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  const int64_t bh = blockIdx.x;
  const float* ST = StateSlot(states, d, bh, d.N);
  for (int k = threadIdx.x; k < d.DK; k += blockDim.x) {
    float acc = 0.f;
    if (dht != nullptr) {
      const float* dST = dht + bh * d.DK * d.DV;
      for (int j = 0; j < d.DV; ++j) acc += dST[k * d.DV + j] * ST[k * d.DV + j];
    }
    final_term[k] = acc;
  }
  __syncthreads();
  if (d.gate != GateKind::kPerDim && threadIdx.x == 0) {
    float acc = 0.f;
    for (int k = 0; k < d.DK; ++k) acc += final_term[k];
    final_term[0] = acc;
  }
  __syncthreads();
  for (int k = threadIdx.x; k < cols; k += blockDim.x) {
    float run = final_term[k];
    for (int64_t n = d.N - 1; n >= 0; --n) {
      float* slot = totals + (bh * d.N + n) * cols + k;
      const float chunk_sum = *slot;
      *slot = run;
      run += chunk_sum;
    }
  }
}

// 7b. dg of this chunk += its offset from 7a.
__global__ void GateGradFinishKernel(LinearAttnBackwardParams bp, Dims d, const float* totals) {
  const ChunkPos c = ThisChunk(d);
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  float* dg = static_cast<float*>(bp.dg);
  for (int idx = threadIdx.x; idx < c.L * cols; idx += blockDim.x) {
    const int t = idx / cols, k = idx % cols;
    dg[Row(d, c.b, c.t0 + t, c.h, cols) + k] += totals[(c.bh * d.N + c.n) * cols + k];
  }
}

Dims MakeDims(const LinearAttnForwardParams& p) {
  if (p.DK > kMaxCudaHeadDim || p.DV > kMaxCudaHeadDim) {
    throw std::invalid_argument("murmur CUDA kernels support head dims up to " +
                                std::to_string(kMaxCudaHeadDim) + " (got DK=" +
                                std::to_string(p.DK) + ", DV=" + std::to_string(p.DV) + ")");
  }
  if (p.dtype == DType::kFloat64) {
    throw std::invalid_argument("murmur CUDA kernels take float32 or bfloat16 inputs");
  }
  Dims d;
  d.T = p.T;
  d.H = p.H;
  d.DK = p.DK;
  d.DV = p.DV;
  d.C = 64;
  d.N = (p.T + d.C - 1) / d.C;
  d.gate = p.gate;
  d.scale = p.scale;
  return d;
}

template <typename Kernel>
void AllowSmem(Kernel kernel, size_t smem) {
  Check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem)),
        "raising the shared-memory limit");
}

// The block's shared memory must fit what this GPU lets one block opt in to
// (227 KB on an H100/H200, 163 KB on an A100, 99 KB on most others).
void CheckSmemFits(const Dims& d, size_t smem) {
  int device = 0, limit = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  Check(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "reading the shared-memory limit");
  if (smem > static_cast<size_t>(limit)) {
    throw std::invalid_argument(
        "murmur CUDA kernels need " + std::to_string(smem / 1024) +
        " KB of shared memory per block at DK=" + std::to_string(d.DK) + ", DV=" +
        std::to_string(d.DV) + "; this GPU allows " + std::to_string(limit / 1024) +
        " KB (an H100/H200 allows 227 KB): use smaller head dims or the CPU op");
  }
}

// Workspace floats, per batch-head: forward states [N + 1][DK * DV] and
// chunk totals [N][DK]; the backward adds the state gradients [N + 1][DK * DV],
// the gate-gradient chunk sums [N][cols] and, for a scalar gate, the terms
// of r_t [N][C][DK].
int64_t ForwardWorkspaceFloats(const Dims& d, int64_t BH) {
  return BH * ((d.N + 1) * d.DK * d.DV + d.N * d.DK);
}
int64_t BackwardWorkspaceFloats(const Dims& d, int64_t BH) {
  const int64_t cols = d.gate == GateKind::kPerDim ? d.DK : 1;
  const int64_t terms = d.gate == GateKind::kScalar ? d.N * d.C * d.DK : 0;
  return BH * (2 * (d.N + 1) * d.DK * d.DV + d.N * (d.DK + cols) + terms);
}

// The caller's workspace, or one allocated on the stream and freed
// (stream-ordered) on scope exit.
class Workspace {
 public:
  Workspace(void* given, int64_t floats, cudaStream_t stream) : stream_(stream) {
    if (given != nullptr) {
      data_ = static_cast<float*>(given);
      return;
    }
    Check(cudaMallocAsync(&data_, sizeof(float) * static_cast<size_t>(floats == 0 ? 1 : floats),
                          stream),
          "workspace");
    owned_ = true;
  }
  ~Workspace() {
    if (owned_) cudaFreeAsync(data_, stream_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  float* data() const { return data_; }

 private:
  float* data_ = nullptr;
  bool owned_ = false;
  cudaStream_t stream_;
};

// Blocks of the elementwise state scans: one thread per state element.
int64_t ScanBlocks(const Dims& d, int64_t bh) {
  return bh * ((d.DK * d.DV + kThreads - 1) / kThreads);
}

template <typename in_t, GateKind G>
void ForwardGated(const LinearAttnForwardParams& p, const Dims& d, cudaStream_t stream) {
  const int64_t BH = p.B * p.H, chunks = BH * d.N;
  const size_t smem = SmemBytes(d, Smem::kForward);
  CheckSmemFits(d, smem);
  AllowSmem(ChunkUpdateKernel<in_t, G>, smem);
  AllowSmem(ChunkOutputKernel<in_t, G>, smem);
  Workspace ws(p.workspace, ForwardWorkspaceFloats(d, BH), stream);
  float* states = ws.data();
  float* gam = states + BH * (d.N + 1) * d.DK * d.DV;
  if (chunks > 0) Launch(ChunkUpdateKernel<in_t, G>, chunks, smem, stream, p, d, states, gam);
  Launch(ScanKernel</*kReverse=*/false>, ScanBlocks(d, BH), 0, stream, d,
         static_cast<const float*>(p.initial_state), states, static_cast<const float*>(gam),
         static_cast<float*>(p.final_state));
  if (chunks > 0) {
    Launch(ChunkOutputKernel<in_t, G>, chunks, smem, stream, p, d, static_cast<const float*>(states));
  }
  Check(cudaGetLastError(), "forward launch");
}

template <typename in_t, GateKind G>
void BackwardGated(const LinearAttnBackwardParams& bp, const Dims& d, cudaStream_t stream) {
  const LinearAttnForwardParams& p = bp.fwd;
  const int64_t BH = p.B * p.H, chunks = BH * d.N;
  const int64_t state_floats = BH * (d.N + 1) * d.DK * d.DV;
  const size_t smem_fwd = SmemBytes(d, Smem::kForward), smem = SmemBytes(d, Smem::kBackward);
  CheckSmemFits(d, smem);
  AllowSmem(ChunkUpdateKernel<in_t, G>, smem_fwd);
  AllowSmem(ChunkDStateKernel<in_t, G>, smem);
  AllowSmem(ChunkGradKernel<in_t, G>, smem);
  Workspace ws(bp.workspace, BackwardWorkspaceFloats(d, BH), stream);
  float* states = ws.data();
  float* dstates = states + state_floats;
  float* gam = dstates + state_floats;
  float* totals = gam + BH * d.N * d.DK;
  float* terms = totals + BH * d.N * (d.gate == GateKind::kPerDim ? d.DK : 1);
  const auto* cgam = static_cast<const float*>(gam);
  const auto* dht = static_cast<const float*>(bp.d_final_state);
  // The chunk-start states, as in the forward.
  if (chunks > 0) Launch(ChunkUpdateKernel<in_t, G>, chunks, smem_fwd, stream, p, d, states, gam);
  Launch(ScanKernel</*kReverse=*/false>, ScanBlocks(d, BH), 0, stream, d,
         static_cast<const float*>(p.initial_state), states, cgam, static_cast<float*>(nullptr));
  // Gradients of every chunk-start state, and of h0.
  if (chunks > 0) Launch(ChunkDStateKernel<in_t, G>, chunks, smem, stream, bp, d, dstates);
  Launch(ScanKernel</*kReverse=*/true>, ScanBlocks(d, BH), 0, stream, d, dht, dstates, cgam,
         static_cast<float*>(bp.d_initial_state));
  if (chunks > 0) {
    Launch(ChunkGradKernel<in_t, G>, chunks, smem, stream, bp, d, static_cast<const float*>(states),
           static_cast<const float*>(dstates), totals, terms);
    if (d.gate != GateKind::kNone && bp.dg != nullptr) {
      Launch(GateOffsetScanKernel, BH, 0, stream, d, dht, static_cast<const float*>(states), totals);
      Launch(GateGradFinishKernel, chunks, 0, stream, bp, d, static_cast<const float*>(totals));
    }
  }
  Check(cudaGetLastError(), "backward launch");
}

// The gate kind is a template argument of the chunk kernels: plain
// attention then carries no exp in its inner loops.
template <typename in_t>
void Forward(const LinearAttnForwardParams& p, const Dims& d, cudaStream_t stream) {
  switch (d.gate) {
    case GateKind::kNone: return ForwardGated<in_t, GateKind::kNone>(p, d, stream);
    case GateKind::kScalar: return ForwardGated<in_t, GateKind::kScalar>(p, d, stream);
    case GateKind::kPerDim: return ForwardGated<in_t, GateKind::kPerDim>(p, d, stream);
  }
}

template <typename in_t>
void Backward(const LinearAttnBackwardParams& bp, const Dims& d, cudaStream_t stream) {
  switch (d.gate) {
    case GateKind::kNone: return BackwardGated<in_t, GateKind::kNone>(bp, d, stream);
    case GateKind::kScalar: return BackwardGated<in_t, GateKind::kScalar>(bp, d, stream);
    case GateKind::kPerDim: return BackwardGated<in_t, GateKind::kPerDim>(bp, d, stream);
  }
}

}  // namespace

size_t LinearAttnForwardCudaWorkspaceBytes(const LinearAttnForwardParams& p) {
  return sizeof(float) * static_cast<size_t>(ForwardWorkspaceFloats(MakeDims(p), p.B * p.H));
}

size_t LinearAttnBackwardCudaWorkspaceBytes(const LinearAttnBackwardParams& bp) {
  return sizeof(float) *
         static_cast<size_t>(BackwardWorkspaceFloats(MakeDims(bp.fwd), bp.fwd.B * bp.fwd.H));
}

void LinearAttnForwardCuda(const LinearAttnForwardParams& p, void* stream_ptr) {
  if (p.B * p.H == 0) return;
  const Dims d = MakeDims(p);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  if (p.dtype == DType::kBFloat16) {
    Forward<__nv_bfloat16>(p, d, stream);
  } else {
    Forward<float>(p, d, stream);
  }
}

void LinearAttnBackwardCuda(const LinearAttnBackwardParams& bp, void* stream_ptr) {
  if (bp.fwd.B * bp.fwd.H == 0) return;
  const Dims d = MakeDims(bp.fwd);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  if (bp.fwd.dtype == DType::kBFloat16) {
    Backward<__nv_bfloat16>(bp, d, stream);
  } else {
    Backward<float>(bp, d, stream);
  }
}

}  // namespace murmur::kernels
