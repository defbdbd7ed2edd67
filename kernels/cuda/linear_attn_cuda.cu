// CUDA implementation of chunked causal linear attention (plain, scalar
// decay, per-dimension GLA gates), forward and backward.
//
// One thread block per (batch, head) walks the sequence chunk by chunk.
// A chunk of q, k, v (and dO) is staged in shared memory as fp32; the
// intra-chunk matrix A_ts = sum_d q_td k_sd exp(b_td - b_sd) (s <= t) is
// formed elementwise with the exponent masked before exp, so every exponent
// is <= 0 for all gate kinds; the running state S (DK x DV, fp32) lives in a
// global workspace that stays in L2. The backward pass stores the state at
// the start of every chunk in a first sweep, then walks the chunks in
// reverse carrying dS, and accumulates the gate gradient with the identity
// dlog a_t = sum_{t' >= t} (q . dq - k . dk)_{t'} + <dS_T, S_T>.
// Only LinearAttn{Forward,Backward}Cuda are visible; they see params only.
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

// kernel<<<blocks, kThreads, smem, stream>>>(args...), or its CPU emulation.
template <typename... Params, typename... Args>
void Launch(void (*kernel)(Params...), int64_t blocks, size_t smem, cudaStream_t stream,
            Args... args) {
#ifdef MURMUR_CUDA_EMULATION
  (void)stream;
  cuda_emulation::Run(blocks, kThreads, smem, [&] { kernel(args...); });
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
  GateKind gate;
  float scale;
};

__device__ __forceinline__ int64_t Row(const Dims& d, int64_t b, int64_t t, int64_t h,
                                       int64_t width) {
  return ((b * d.T + t) * d.H + h) * width;
}

// Shared-memory layout of one chunk.
struct Smem {
  float* Q;  // [C, DK]
  float* K;  // [C, DK]
  float* V;  // [C, DV]
  float* dO; // [C, DV] (backward)
  float* A;  // [C, C]
  float* dA; // [C, C] (backward)
  float* b;  // [C, DK] cumulative log gates (scalar: column 0)
  float* G;  // [DK] chunk totals
  float* r;  // [C] scratch
};

__device__ Smem CarveSmem(float* base, const Dims& d) {
  Smem s;
  const int C = d.C;
  s.Q = base;
  s.K = s.Q + C * d.DK;
  s.V = s.K + C * d.DK;
  s.dO = s.V + C * d.DV;
  s.A = s.dO + C * d.DV;
  s.dA = s.A + C * C;
  s.b = s.dA + C * C;
  s.G = s.b + C * d.DK;
  s.r = s.G + d.DK;
  return s;
}

size_t SmemBytes(int C, int64_t DK, int64_t DV) {
  return sizeof(float) * (2 * C * DK + 2 * C * DV + 2 * C * C + C * DK + DK + C);
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

// log-decay between rows t >= s for key dim c (0 when there is no gate).
__device__ __forceinline__ float Between(const Smem& s, const Dims& d, int t, int sr, int c) {
  if (d.gate == GateKind::kNone) return 0.f;
  const int cc = d.gate == GateKind::kPerDim ? c : 0;
  return s.b[t * d.DK + cc] - s.b[sr * d.DK + cc];
}
__device__ __forceinline__ float FromStart(const Smem& s, const Dims& d, int t, int c) {
  if (d.gate == GateKind::kNone) return 0.f;
  return s.b[t * d.DK + (d.gate == GateKind::kPerDim ? c : 0)];
}
__device__ __forceinline__ float ToEnd(const Smem& s, const Dims& d, int t, int c) {
  if (d.gate == GateKind::kNone) return 0.f;
  const int cc = d.gate == GateKind::kPerDim ? c : 0;
  return s.G[cc] - s.b[t * d.DK + cc];
}
__device__ __forceinline__ float Total(const Smem& s, const Dims& d, int c) {
  if (d.gate == GateKind::kNone) return 0.f;
  return s.G[d.gate == GateKind::kPerDim ? c : 0];
}

// A_ts = sum_d q_td k_sd e^(b_td - b_sd) for s <= t, else 0 (unscaled).
__device__ void BuildA(const Smem& s, const Dims& d, int L) {
  for (int idx = threadIdx.x; idx < L * L; idx += blockDim.x) {
    const int t = idx / L, sr = idx % L;
    float acc = 0.f;
    if (sr <= t) {
      if (d.gate == GateKind::kPerDim) {
        for (int c = 0; c < d.DK; ++c) {
          acc += s.Q[t * d.DK + c] * s.K[sr * d.DK + c] * __expf(Between(s, d, t, sr, c));
        }
      } else {
        for (int c = 0; c < d.DK; ++c) acc += s.Q[t * d.DK + c] * s.K[sr * d.DK + c];
        acc *= __expf(Between(s, d, t, sr, 0));
      }
    }
    s.A[t * d.C + sr] = acc;
  }
}

// S <- e^G S + (K e^(G-b))^T V.
__device__ void AdvanceState(const Smem& s, const Dims& d, int L, float* S) {
  for (int idx = threadIdx.x; idx < d.DK * d.DV; idx += blockDim.x) {
    const int c = idx / d.DV, j = idx % d.DV;
    float acc = S[idx] * __expf(Total(s, d, c));
    for (int i = 0; i < L; ++i) acc += s.K[i * d.DK + c] * __expf(ToEnd(s, d, i, c)) * s.V[i * d.DV + j];
    S[idx] = acc;
  }
}

template <typename in_t>
__global__ void ForwardKernel(LinearAttnForwardParams p, Dims d, float* workspace) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
  const int64_t state_elems = d.DK * d.DV;
  float* S = workspace + bh * state_elems;
  const float* h0 = static_cast<const float*>(p.initial_state);
  for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) {
    S[idx] = h0 ? h0[bh * state_elems + idx] : 0.f;
  }
  const in_t* q = static_cast<const in_t*>(p.q);
  const in_t* k = static_cast<const in_t*>(p.k);
  const in_t* v = static_cast<const in_t*>(p.v);
  in_t* o = static_cast<in_t*>(p.o);
  const float* g = static_cast<const float*>(p.g);
  for (int64_t t0 = 0; t0 < d.T; t0 += d.C) {
    const int L = static_cast<int>(d.T - t0 < d.C ? d.T - t0 : d.C);
    LoadTile(q, d, b, h, t0, L, d.DK, s.Q);
    LoadTile(k, d, b, h, t0, L, d.DK, s.K);
    LoadTile(v, d, b, h, t0, L, d.DV, s.V);
    LoadGates(g, d, b, h, t0, L, s);
    __syncthreads();
    BuildA(s, d, L);
    __syncthreads();
    for (int idx = threadIdx.x; idx < L * d.DV; idx += blockDim.x) {
      const int t = idx / d.DV, j = idx % d.DV;
      float acc = 0.f;
      for (int c = 0; c < d.DK; ++c) acc += s.Q[t * d.DK + c] * __expf(FromStart(s, d, t, c)) * S[c * d.DV + j];
      for (int sr = 0; sr <= t; ++sr) acc += s.A[t * d.C + sr] * s.V[sr * d.DV + j];
      o[Row(d, b, t0 + t, h, d.DV) + j] = FromF<in_t>(d.scale * acc);
    }
    __syncthreads();
    AdvanceState(s, d, L, S);
    __syncthreads();
  }
  if (p.final_state != nullptr) {
    float* ht = static_cast<float*>(p.final_state) + bh * state_elems;
    for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) ht[idx] = S[idx];
  }
}

// Workspace per (b,h): (n_chunks + 1) states, dS, and fp32 dq, dk for one chunk.
template <typename in_t>
__global__ void BackwardKernel(LinearAttnBackwardParams bp, Dims d, float* workspace,
                               int64_t n_chunks) {
  MURMUR_DYNAMIC_SMEM(smem);
  Smem s = CarveSmem(smem, d);
  const LinearAttnForwardParams& p = bp.fwd;
  const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
  const int64_t state_elems = d.DK * d.DV;
  const int64_t per_bh = (n_chunks + 2) * state_elems + 2 * d.C * d.DK;
  float* states = workspace + bh * per_bh;
  float* dS = states + (n_chunks + 1) * state_elems;
  float* dq32 = dS + state_elems;
  float* dk32 = dq32 + d.C * d.DK;
  const in_t* q = static_cast<const in_t*>(p.q);
  const in_t* k = static_cast<const in_t*>(p.k);
  const in_t* v = static_cast<const in_t*>(p.v);
  const in_t* d_o = static_cast<const in_t*>(bp.d_o);
  const float* g = static_cast<const float*>(p.g);
  const float* h0 = static_cast<const float*>(p.initial_state);
  const float* dht = static_cast<const float*>(bp.d_final_state);

  // Sweep 1: the state at the start of every chunk (and the final state).
  float* S = states;
  for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) {
    S[idx] = h0 ? h0[bh * state_elems + idx] : 0.f;
  }
  for (int64_t n = 0; n < n_chunks; ++n) {
    const int64_t t0 = n * d.C;
    const int L = static_cast<int>(d.T - t0 < d.C ? d.T - t0 : d.C);
    float* next = states + (n + 1) * state_elems;
    LoadTile(k, d, b, h, t0, L, d.DK, s.K);
    LoadTile(v, d, b, h, t0, L, d.DV, s.V);
    LoadGates(g, d, b, h, t0, L, s);
    for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) next[idx] = states[n * state_elems + idx];
    __syncthreads();
    AdvanceState(s, d, L, next);
    __syncthreads();
  }
  const float* ST = states + n_chunks * state_elems;
  // Gate-gradient suffix sums start at <dS_T, S_T> (per key dim): s.r is
  // too small for DK, so keep them in G's slot after each chunk's use.
  const int gcols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  __shared__ float suffix[256];
  for (int c = threadIdx.x; c < gcols; c += blockDim.x) suffix[c] = 0.f;
  __syncthreads();
  if (dht != nullptr && d.gate != GateKind::kNone) {
    for (int c = threadIdx.x; c < d.DK; c += blockDim.x) {
      float acc = 0.f;
      for (int j = 0; j < d.DV; ++j) acc += dht[bh * state_elems + c * d.DV + j] * ST[c * d.DV + j];
      atomicAdd(&suffix[d.gate == GateKind::kPerDim ? c : 0], acc);
    }
  }
  for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) {
    dS[idx] = dht ? dht[bh * state_elems + idx] : 0.f;
  }
  __syncthreads();

  for (int64_t n = n_chunks - 1; n >= 0; --n) {
    const int64_t t0 = n * d.C;
    const int L = static_cast<int>(d.T - t0 < d.C ? d.T - t0 : d.C);
    const float* Sn = states + n * state_elems;
    LoadTile(q, d, b, h, t0, L, d.DK, s.Q);
    LoadTile(k, d, b, h, t0, L, d.DK, s.K);
    LoadTile(v, d, b, h, t0, L, d.DV, s.V);
    LoadTile(d_o, d, b, h, t0, L, d.DV, s.dO);
    LoadGates(g, d, b, h, t0, L, s);
    __syncthreads();
    BuildA(s, d, L);
    for (int idx = threadIdx.x; idx < L * L; idx += blockDim.x) {
      const int t = idx / L, sr = idx % L;
      float acc = 0.f;
      if (sr <= t) {
        for (int j = 0; j < d.DV; ++j) acc += s.dO[t * d.DV + j] * s.V[sr * d.DV + j];
      }
      s.dA[t * d.C + sr] = d.scale * acc;
    }
    __syncthreads();
    // dq and dk (fp32 scratch), dv (written out).
    for (int idx = threadIdx.x; idx < L * d.DK; idx += blockDim.x) {
      const int t = idx / d.DK, c = idx % d.DK;
      float inter = 0.f;
      for (int j = 0; j < d.DV; ++j) inter += s.dO[t * d.DV + j] * Sn[c * d.DV + j];
      float acc = d.scale * __expf(FromStart(s, d, t, c)) * inter;
      for (int sr = 0; sr <= t; ++sr) acc += s.dA[t * d.C + sr] * s.K[sr * d.DK + c] * __expf(Between(s, d, t, sr, c));
      dq32[idx] = acc;
      float kin = 0.f;
      for (int j = 0; j < d.DV; ++j) kin += s.V[t * d.DV + j] * dS[c * d.DV + j];
      float kacc = __expf(ToEnd(s, d, t, c)) * kin;
      for (int tt = t; tt < L; ++tt) kacc += s.dA[tt * d.C + t] * s.Q[tt * d.DK + c] * __expf(Between(s, d, tt, t, c));
      dk32[idx] = kacc;
    }
    in_t* dv = static_cast<in_t*>(bp.dv);
    for (int idx = threadIdx.x; idx < L * d.DV; idx += blockDim.x) {
      const int sr = idx / d.DV, j = idx % d.DV;
      float acc = 0.f;
      for (int c = 0; c < d.DK; ++c) acc += s.K[sr * d.DK + c] * __expf(ToEnd(s, d, sr, c)) * dS[c * d.DV + j];
      for (int t = sr; t < L; ++t) acc += d.scale * s.A[t * d.C + sr] * s.dO[t * d.DV + j];
      dv[Row(d, b, t0 + sr, h, d.DV) + j] = FromF<in_t>(acc);
    }
    __syncthreads();
    // dS <- e^G dS + scale (Q e^b)^T dO.
    for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) {
      const int c = idx / d.DV, j = idx % d.DV;
      float acc = __expf(Total(s, d, c)) * dS[idx];
      for (int t = 0; t < L; ++t) acc += d.scale * s.Q[t * d.DK + c] * __expf(FromStart(s, d, t, c)) * s.dO[t * d.DV + j];
      dS[idx] = acc;
    }
    // Write dq, dk; gate gradients from the fp32 values.
    in_t* dqo = static_cast<in_t*>(bp.dq);
    in_t* dko = static_cast<in_t*>(bp.dk);
    for (int idx = threadIdx.x; idx < L * d.DK; idx += blockDim.x) {
      const int t = idx / d.DK, c = idx % d.DK;
      dqo[Row(d, b, t0 + t, h, d.DK) + c] = FromF<in_t>(dq32[idx]);
      dko[Row(d, b, t0 + t, h, d.DK) + c] = FromF<in_t>(dk32[idx]);
    }
    __syncthreads();
    if (d.gate != GateKind::kNone && bp.dg != nullptr) {
      float* dg = static_cast<float*>(bp.dg);
      if (d.gate == GateKind::kPerDim) {
        for (int c = threadIdx.x; c < d.DK; c += blockDim.x) {
          for (int t = L - 1; t >= 0; --t) {
            const int i = t * d.DK + c;
            suffix[c] += s.Q[i] * dq32[i] - s.K[i] * dk32[i];
            dg[Row(d, b, t0 + t, h, d.DK) + c] = suffix[c];
          }
        }
      } else {
        for (int t = threadIdx.x; t < L; t += blockDim.x) {
          float acc = 0.f;
          for (int c = 0; c < d.DK; ++c) acc += s.Q[t * d.DK + c] * dq32[t * d.DK + c] - s.K[t * d.DK + c] * dk32[t * d.DK + c];
          s.r[t] = acc;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
          for (int t = L - 1; t >= 0; --t) {
            suffix[0] += s.r[t];
            dg[Row(d, b, t0 + t, h, 1)] = suffix[0];
          }
        }
      }
    }
    __syncthreads();
  }
  if (bp.d_initial_state != nullptr) {
    float* dh0 = static_cast<float*>(bp.d_initial_state) + bh * state_elems;
    for (int idx = threadIdx.x; idx < state_elems; idx += blockDim.x) dh0[idx] = dS[idx];
  }
}

Dims MakeDims(const LinearAttnForwardParams& p) {
  if (p.DK > 128 || p.DV > 128) {
    throw std::invalid_argument("murmur CUDA kernels support head dims up to 128 (got DK=" +
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

}  // namespace

void LinearAttnForwardCuda(const LinearAttnForwardParams& p, void* stream_ptr) {
  if (p.B * p.H == 0 || p.T == 0) return;
  Dims d = MakeDims(p);
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  const size_t smem = SmemBytes(d.C, d.DK, d.DV);
  float* ws = nullptr;
  Check(cudaMallocAsync(&ws, sizeof(float) * p.B * p.H * p.DK * p.DV, stream), "workspace");
  if (p.dtype == DType::kBFloat16) {
    AllowSmem(ForwardKernel<__nv_bfloat16>, smem);
    Launch(ForwardKernel<__nv_bfloat16>, p.B * p.H, smem, stream, p, d, ws);
  } else {
    AllowSmem(ForwardKernel<float>, smem);
    Launch(ForwardKernel<float>, p.B * p.H, smem, stream, p, d, ws);
  }
  Check(cudaGetLastError(), "forward launch");
  Check(cudaFreeAsync(ws, stream), "workspace free");
}

void LinearAttnBackwardCuda(const LinearAttnBackwardParams& bp, void* stream_ptr) {
  const LinearAttnForwardParams& p = bp.fwd;
  if (p.B * p.H == 0 || p.T == 0) return;
  Dims d = MakeDims(p);
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int64_t n_chunks = (p.T + d.C - 1) / d.C;
  const size_t smem = SmemBytes(d.C, d.DK, d.DV);
  const int64_t per_bh = (n_chunks + 2) * p.DK * p.DV + 2 * d.C * p.DK;
  float* ws = nullptr;
  Check(cudaMallocAsync(&ws, sizeof(float) * p.B * p.H * per_bh, stream), "workspace");
  if (p.dtype == DType::kBFloat16) {
    AllowSmem(BackwardKernel<__nv_bfloat16>, smem);
    Launch(BackwardKernel<__nv_bfloat16>, p.B * p.H, smem, stream, bp, d, ws, n_chunks);
  } else {
    AllowSmem(BackwardKernel<float>, smem);
    Launch(BackwardKernel<float>, p.B * p.H, smem, stream, bp, d, ws, n_chunks);
  }
  Check(cudaGetLastError(), "backward launch");
  Check(cudaFreeAsync(ws, stream), "workspace free");
}

}  // namespace murmur::kernels
