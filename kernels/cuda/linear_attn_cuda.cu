// CUDA implementation of chunked causal linear attention (plain, scalar
// decay, per-dimension GLA gates), forward and backward.
//
// Chunk-parallel, as in KERNELS.md: the sequence is cut into chunks of C
// rows and every (batch, head, chunk) is one or more thread blocks, so a
// B=4, H=4, T=4096 call runs thousands of blocks rather than 16 sequential
// walks. Only the state recurrence is sequential, and it is elementwise:
//   forward   1. ChunkUpdate: per chunk, dS_n = (K e^(G-b))^T V and G_n
//             2. Scan:        S_{n+1} = e^(G_n) S_n + dS_n, one thread per
//                state element, every S_n kept (one state per chunk)
//             3. ChunkOutput: O_n = scale ((Q e^b) S_n + ((Q K^T) (.) D) V)
//   backward  1-2 again for the S_n, then
//             4. ChunkDState: per chunk, scale (Q e^b)^T dO
//             5. the same scan in reverse: gradient of every S_{n+1}; dh0
//             6. ChunkGradQK: dq, dk of the chunk (per key tile) and, for a
//                per-dim gate, the chunk-local reverse cumsum of
//                (q . dq - k . dk); ChunkGradV: dv (per value tile);
//                ScalarGateLocal: the same cumsum for a scalar gate, summed
//                over all key tiles
//             7. GateOffsetScan + GateGradFinish: add the later chunks' sums
//                and <dS_T, S_T> (dlog a_t = sum_{t' >= t} (...) + <dS_T, S_T>)
// Tensor cores (kTC): for fp16 (sm_75+) and bf16 (sm_80+) inputs with head
// dims multiples of 16, the intra-chunk products (Q K^T, A V, the state
// updates K^T V and Q^T dO, the backward's dO V^T, dA K, dA^T Q, A^T dO) run
// as WMMA 16x16x16 fragments with fp32 accumulation (fragment_ops.h) on
// 16-bit staged tiles, every C rows staged (zeros past a ragged chunk's end).
// Steps 1-2 and 4-5 then fuse into ChunkStateWalk: a block per (batch-head,
// state tile) walks the chunks with the fp32 state in registers and writes
// each chunk's state once, split: S = hi + lo, both 16-bit (lo = the
// rounding error of hi; fp16, whose range ends at 65504, as f (hi + lo)
// with a power-of-two f per 16x16 fragment). The products with the states
// ((Q e^b) S_n, dO S^T, V dS^T, (K e^(G-b)) dS) run on tensor cores against
// that pair, two fragment products giving the state's product to about
// 2^-16 relative, as accurate as fp32 states on CUDA cores for these sums.
// The fragments of hi and lo load straight from the workspace (global
// memory, through L1 and L2), not through shared memory. For a per-dim gate the
// intra matrices that carry the decay inside the sum stay elementwise.
// The forward without a per-dim gate goes further where its shared memory
// fits (FusedForwardKernel): a block per (batch-head, value tile) walks the
// chunks doing 1-3 for each, its state in registers and its hi + lo copy
// in shared memory, so no state crosses device memory at all.
// Shared memory that fits every GPU: a block stages a key tile and/or a
// value tile of its chunk as fp32 or 16-bit (launch_plan.h picks C and the tile widths
// from the device's per-block limit, 48 KB to 227 KB); a kernel that
// contracts over a dimension loops over that dimension's tiles, summing its
// outputs in shared memory. The intra-chunk matrix
// A_ts = sum_d q_td k_sd exp(b_td - b_sd) (s <= t) is accumulated over key
// tiles with the exponent masked before exp, so every exponent is <= 0 for
// all gate kinds. States, accumulators and gate gradients are fp32.
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
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define MURMUR_DYNAMIC_SMEM(name) extern __shared__ float name[]
// Fully unrolled, so arrays of fragments indexed by the loop stay in
// registers (a dynamic index puts them in local memory).
#define MURMUR_UNROLL _Pragma("unroll")
// A device function kept out of line (a call, not inlined).
#define MURMUR_NOINLINE __noinline__
#endif

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/fragment_ops.h"
#include "kernels/cuda/launch_plan.h"
#include "kernels/linear_attn_params.h"

namespace murmur::kernels {
namespace {

constexpr int kThreads = kCudaThreads;

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
__device__ __forceinline__ float ToF(__half x) { return __half2float(x); }
template <typename T>
__device__ __forceinline__ T FromF(float x);
template <>
__device__ __forceinline__ float FromF<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 FromF<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half FromF<__half>(float x) {
  return __float2half_rn(x);
}

// What a block stages its q, k, v, dO tiles as: fp32 on the CUDA-core path,
// the 16-bit input type on the tensor-core one (kTC).
template <typename in_t, bool kTC>
using Stage = std::conditional_t<kTC, in_t, float>;

struct Dims {
  int64_t T, H, DK, DV;
  int C;
  int64_t N;  // chunks: ceil(T / C)
  GateKind gate;
  float scale;
  int TK, TV;  // key and value tile widths (the last tile may be narrower)
  int nK, nV;  // tiles per head dim
  bool tc;     // tensor cores (launch_plan.h: fp16/bf16, dims multiples of 16)
  bool scaled_split;  // fp16 on tensor cores: split states carry scales (SplitStates)
  bool fused;  // the forward runs FusedForwardKernel (C = 64, TK = DK, TV its value tile)
};

__device__ __forceinline__ int Warp() { return static_cast<int>(threadIdx.x / 32); }
__device__ __forceinline__ int Warps() { return static_cast<int>(blockDim.x / 32); }

__device__ __forceinline__ int64_t Row(const Dims& d, int64_t b, int64_t t, int64_t h,
                                       int64_t width) {
  return ((b * d.T + t) * d.H + h) * width;
}

// The block's chunk: batch-head bh, chunk n, rows [t0, t0 + L), and which
// of the chunk's `per_chunk` tiles it works on.
struct ChunkPos {
  int64_t bh, b, h, n, t0;
  int L;
  int tile;
};

__device__ __forceinline__ ChunkPos ChunkAt(const Dims& d, int64_t bh, int64_t n, int tile) {
  ChunkPos c;
  c.tile = tile;
  c.bh = bh;
  c.n = n;
  c.b = bh / d.H;
  c.h = bh % d.H;
  c.t0 = n * d.C;
  c.L = static_cast<int>(d.T - c.t0 < d.C ? d.T - c.t0 : d.C);
  return c;
}
// The chunk of this block, one of `per_chunk` blocks per chunk.
__device__ __forceinline__ ChunkPos ThisChunk(const Dims& d, int per_chunk) {
  const int64_t chunk = blockIdx.x / per_chunk;
  return ChunkAt(d, chunk / d.N, chunk % d.N, static_cast<int>(blockIdx.x % per_chunk));
}

// A tile of a head dim: columns [start, start + width).
struct Span {
  int start, width;
};
__device__ __forceinline__ Span TileOf(int tile, int tile_width, int64_t dim) {
  const int start = tile * tile_width;
  const int rest = static_cast<int>(dim) - start;
  return {start, rest < tile_width ? rest : tile_width};
}

// The staged arrays of one block (SmemLayout in launch_plan.h): Q and K key
// tiles [C, kw], cumulative log gates b [C, gs] and the chunk's totals G
// [gs] of the key tile (gs: kw for a per-dim gate, 1 for a scalar one),
// A [C, C], value tiles Y1 and Y2 [C, vw], accumulators Acc1 and Acc2 of
// a kernel's outputs ([C, vw] or [C, kw]) that sum over the tiles of the
// other head dim. Rows are ldqk (Q, K, Xlo), ldy (Y1, Y2), lda (A), lda16
// (A16, A16lo), ldacc (Acc1, Acc2) elements apart (RowPitch in
// launch_plan.h: padded against bank conflicts), b's rows gs apart.
// On the tensor-core path Q, K, Y1, Y2 are 16-bit (stage_t) with all C rows
// staged (rows from L on zero), and A16 [C, C] is the masked, scaled A
// (or dA) as a 16-bit operand.
template <typename stage_t>
struct Tiles {
  stage_t *Q, *K;
  float *b, *G, *A;
  stage_t *Y1, *Y2;
  float *Acc1, *Acc2;
  stage_t *A16, *Xlo, *A16lo;
  int gs;
  int ldqk, ldy, lda, lda16, ldacc;
  float* Coords;  // FillCoordTable's table (grad_qk on tensor cores)
  float* b2;      // the state walks' second gate buffer
  // The fused forward's second q and k buffers, and its state as hi + lo
  // [DK, vw] (rows lds apart) with fp16's per-fragment scales.
  stage_t *Q2, *K2, *Shi, *Slo;
  float* Sscale;
  int lds;
};

template <typename stage_t>
__device__ __forceinline__ Tiles<stage_t> Carve(float* base, const SmemLayout& l) {
  char* bytes = reinterpret_cast<char*>(base);
  auto f = [bytes](int offset) {
    return offset >= 0 ? reinterpret_cast<float*>(bytes + offset) : nullptr;
  };
  auto h = [bytes](int offset) {
    return offset >= 0 ? reinterpret_cast<stage_t*>(bytes + offset) : nullptr;
  };
  return {h(l.q),    h(l.k),     f(l.b),   f(l.G),      f(l.a),      h(l.y1),
          h(l.y2),   f(l.acc1),  f(l.acc2), h(l.a16),  h(l.xlo),    h(l.a16lo),
          0,         l.ld_qk,    l.ld_y,    l.ld_a,    l.ld_a16,    l.ld_acc,
          f(l.coords), f(l.b2),  h(l.q2),     h(l.k2),    h(l.shi),  h(l.slo),
          f(l.sscale), l.ld_s};
}

// Columns [col.start, +col.width) of rows t0 .. t0 + L of a [B,T,H,width]
// tensor into dst [L, col.width] (rows ld apart), as stage_t; with kTC the
// rows from L to C are zero-filled, so the 16-row fragments of a ragged
// chunk read zeros.
// 16 bytes, the widest load or store of one thread.
struct alignas(16) Vec16 {
  uint32_t w[4];
};
constexpr int kVec16 = 8;  // 16-bit elements per Vec16
// One 16-byte load or store (16-byte aligned addresses); memcpy in the CPU
// emulation, where a cast would break C++'s aliasing rules.
__device__ __forceinline__ Vec16 Load16(const void* p) {
#ifdef MURMUR_CUDA_EMULATION
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
#else
  return *static_cast<const Vec16*>(p);
#endif
}
__device__ __forceinline__ void Store16(void* p, const Vec16& v) {
#ifdef MURMUR_CUDA_EMULATION
  std::memcpy(p, &v, sizeof v);
#else
  *static_cast<Vec16*>(p) = v;
#endif
}

// Whether rows of a [B,T,H,width] 16-bit tensor, columns [col.start, +width),
// can move as Vec16s: the base 16-byte aligned, the offsets multiples of 8.
template <typename T>
__device__ __forceinline__ bool Vec16Ok(const T* base, int64_t width, Span col) {
  return sizeof(T) == 2 && width % kVec16 == 0 && col.start % kVec16 == 0 &&
         col.width % kVec16 == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0;
}

template <bool kTC, typename in_t, typename stage_t>
__device__ void LoadTile(const in_t* src, const Dims& d, const ChunkPos& c, int64_t width,
                         Span col, stage_t* dst, int ld) {
  if constexpr (kTC && std::is_same_v<in_t, stage_t>) {
    if (Vec16Ok(src, width, col)) {  // the tensor-core path: 16-byte loads, no conversion
      const int groups = col.width / kVec16;
      for (int idx = threadIdx.x; idx < d.C * groups; idx += blockDim.x) {
        const int i = idx / groups, g = idx % groups;
        Vec16 v{};
        if (i < c.L) v = Load16(src + Row(d, c.b, c.t0 + i, c.h, width) + col.start + g * kVec16);
        Store16(dst + i * ld + g * kVec16, v);
      }
      return;
    }
  }
  const int rows = kTC ? d.C : c.L;
  for (int idx = threadIdx.x; idx < rows * col.width; idx += blockDim.x) {
    const int i = idx / col.width, j = idx % col.width;
    const float v = i < c.L ? ToF(src[Row(d, c.b, c.t0 + i, c.h, width) + col.start + j]) : 0.f;
    dst[i * ld + j] = FromF<stage_t>(v);
  }
}

// Rows [0, L) of an fp32 tile src [*, col.width] (rows ld apart) to rows t0 .. t0 + L of a
// [B,T,H,width] tensor, columns col, converted to out_t; 16-byte stores of
// 16-bit values where the layout allows.
template <typename out_t>
__device__ void StoreTile(const float* src, int ld, const Dims& d, const ChunkPos& c,
                          int64_t width, Span col, out_t* dst) {
  if constexpr (sizeof(out_t) == 2) {
    if (Vec16Ok(dst, width, col)) {
      const int groups = col.width / kVec16;
      for (int idx = threadIdx.x; idx < c.L * groups; idx += blockDim.x) {
        const int i = idx / groups, g = idx % groups;
        union {
          Vec16 v;
          out_t e[kVec16];
        } u;
        const float* from = src + i * ld + g * kVec16;
        for (int e = 0; e < kVec16; ++e) u.e[e] = FromF<out_t>(from[e]);
        Store16(dst + Row(d, c.b, c.t0 + i, c.h, width) + col.start + g * kVec16, u.v);
      }
      return;
    }
  }
  for (int idx = threadIdx.x; idx < c.L * col.width; idx += blockDim.x) {
    const int i = idx / col.width, j = idx % col.width;
    dst[Row(d, c.b, c.t0 + i, c.h, width) + col.start + j] = FromF<out_t>(src[i * ld + j]);
  }
}

// The raw gates of a chunk's rows for key tile kc: f(element, index into
// b), for every element of the [L, gs] tile (gs: GateColumns).
__device__ __forceinline__ int GateColumns(const Dims& d, Span kc) {
  return d.gate == GateKind::kPerDim ? kc.width : 1;
}
template <typename F>
__device__ __forceinline__ void ForEachRawGate(const float* g, const Dims& d, const ChunkPos& c,
                                               Span kc, F&& f) {
  const bool per_dim = d.gate == GateKind::kPerDim;
  const int gs = GateColumns(d, kc);
  const int64_t width = per_dim ? d.DK : 1;
  const int first = per_dim ? kc.start : 0;
  for (int idx = threadIdx.x; idx < c.L * gs; idx += blockDim.x) {
    const int i = idx / gs, col = idx % gs;
    f(g + Row(d, c.b, c.t0 + i, c.h, width) + first + col, idx);
  }
}
// s.b's raw gates (rows [0, L)) to their chunk-local cumulative sums, and
// s.G; sets s.gs. Block-collective; the raw gates must be complete and
// visible (a barrier after they were written). A warp per column: each lane
// sums a run of consecutive rows, a scan of the lanes' sums (shuffles)
// gives each run its offset, so a column takes 2 C / 32 + 5 dependent
// steps, not C (the state walks do this once per chunk, in sequence).
template <typename TS>
__device__ void CumulateGates(const Dims& d, const ChunkPos& c, Span kc, TS& s) {
  s.gs = GateColumns(d, kc);
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int per_lane = (c.L + 31) / 32;
  const int first = lane * per_lane;
  const int last = first + per_lane < c.L ? first + per_lane : c.L;
  for (int col = Warp(); col < s.gs; col += Warps()) {
    float run = 0.f;
    for (int i = first; i < last; ++i) run += s.b[i * s.gs + col];
    float through = run;  // the sum of lanes 0 .. lane
    for (int delta = 1; delta < 32; delta *= 2) {
      const float below = __shfl_up_sync(0xffffffffu, through, delta);
      if (lane >= delta) through += below;
    }
    float sum = through - run;
    for (int i = first; i < last; ++i) {
      sum += s.b[i * s.gs + col];
      s.b[i * s.gs + col] = sum;
    }
    if (first < last && last == c.L) s.G[col] = sum;  // the lane with row L - 1: G = b[L - 1]
  }
}
// Chunk-local cumulative log gates and totals of the key tile `kc` (all of
// a scalar gate's single column). Sets s.gs in every thread. Block-
// collective (an internal barrier): every thread loads raw gates at once,
// then each column's running sum runs over shared memory, so a column's
// thread does not wait on C global loads in a row.
template <typename TS>
__device__ void LoadGates(const float* g, const Dims& d, const ChunkPos& c, Span kc, TS& s) {
  if (d.gate == GateKind::kNone) return;
  ForEachRawGate(g, d, c, kc, [&](const float* from, int idx) { s.b[idx] = *from; });
  __syncthreads();
  CumulateGates(d, c, kc, s);
}

// Decay factors for key column c of the tile, e^(exponent) with every
// exponent <= 0; a compile-time 1 without a gate, so plain attention runs
// no exp at all. Between rows t >= sr:
template <GateKind G, typename TS>
__device__ __forceinline__ float DecayBetween(const TS& s, int t, int sr, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    const int cc = G == GateKind::kPerDim ? c : 0;
    return __expf(s.b[t * s.gs + cc] - s.b[sr * s.gs + cc]);
  }
}
// From the chunk start to row t (inclusive):
template <GateKind G, typename TS>
__device__ __forceinline__ float DecayFromStart(const TS& s, int t, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    return __expf(s.b[t * s.gs + (G == GateKind::kPerDim ? c : 0)]);
  }
}
// From row t to the chunk end:
template <GateKind G, typename TS>
__device__ __forceinline__ float DecayToEnd(const TS& s, int t, int c) {
  if constexpr (G == GateKind::kNone) {
    return 1.f;
  } else {
    const int cc = G == GateKind::kPerDim ? c : 0;
    return __expf(s.G[cc] - s.b[t * s.gs + cc]);
  }
}
// The chunk's total log decay (not exponentiated).
template <GateKind G, typename TS>
__device__ __forceinline__ float LogTotal(const TS& s, int c) {
  if constexpr (G == GateKind::kNone) {
    return 0.f;
  } else {
    return s.G[G == GateKind::kPerDim ? c : 0];
  }
}
// The part of the decay between rows that depends on the key dim: all of it
// for GLA; for a scalar gate it is folded into A and dA once per (t, sr).
template <GateKind G, typename TS>
__device__ __forceinline__ float DecayPerDim(const TS& s, int t, int sr, int c) {
  if constexpr (G == GateKind::kPerDim) {
    return DecayBetween<G>(s, t, sr, c);
  } else {
    return 1.f;
  }
}

// A_ts (+)= sum_{d in the key tile} q_td k_sd e^(b_td - b_sd) for s <= t,
// else 0 (unscaled); the first key tile sets A, the others add to it, and
// the last applies a scalar gate's decay. Each (t, sr) belongs to one
// thread for every tile, so the tiles need no barrier between them for A.
template <GateKind G, typename TS>
__device__ void AccumulateA(const TS& s, int L, int kw, bool first, bool last) {
  for (int idx = threadIdx.x; idx < L * L; idx += blockDim.x) {
    const int t = idx / L, sr = idx % L;
    float acc = 0.f;
    if (sr <= t) {
      for (int c = 0; c < kw; ++c) {
        acc += ToF(s.Q[t * s.ldqk + c]) * ToF(s.K[sr * s.ldqk + c]) * DecayPerDim<G>(s, t, sr, c);
      }
      if (!first) acc += s.A[t * s.lda + sr];
      if constexpr (G == GateKind::kScalar) {
        if (last) acc *= DecayBetween<G>(s, t, sr, 0);
      }
    }
    s.A[t * s.lda + sr] = acc;
  }
}

// Workspace layouts, per batch-head: states [N + 1][DK * DV] (slot n is the
// state at the start of chunk n, slot N the final state; slot n + 1 first
// holds chunk n's update), chunk log-decay totals [N][DK].
template <typename F>  // float or const float
__device__ __forceinline__ F* StateSlot(F* states, const Dims& d, int64_t bh, int64_t n) {
  return states + (bh * (d.N + 1) + n) * d.DK * d.DV;
}

// Rows of a [C, kw] key tile (rows s.ldqk apart) times their decay, in place: e^(G - b_t) (to
// the chunk end) or e^(b_t) (from its start). One exp per element here
// instead of one per multiply-add in the loops that use the decayed rows.
// The caller syncs before and after; without a gate there is nothing to do.
template <GateKind G, bool kToEnd, typename TS, typename stage_t>
__device__ void DecayRowsInPlace(const TS& s, int L, int kw, stage_t* X) {
  if constexpr (G != GateKind::kNone) {
    for (int idx = threadIdx.x; idx < L * kw; idx += blockDim.x) {
      const int t = idx / kw, k = idx % kw;
      stage_t& x = X[t * s.ldqk + k];
      x = FromF<stage_t>(ToF(x) * (kToEnd ? DecayToEnd<G>(s, t, k) : DecayFromStart<G>(s, t, k)));
    }
  }
}

// Tensor-core helpers. Each 16x16 output tile belongs to one warp (tiles
// dealt round-robin), which loops over the contracted dim in steps of 16.
__device__ __forceinline__ int Blocks16(int n) { return (n + 15) / 16; }

// A (+)= Q K^T on the lower block triangle of [C, C] (16x16 tiles si <= ti
// whose rows start below L), over one key tile of kw columns. A tile keeps
// its warp from key tile to key tile; the kernels sync between key tiles.
// The last key tile's (`last`) finished tiles go to A16 instead of A, as
// MaskToA16 would write them, from the fragment's own elements (coords:
// FillCoordTable): factor A (times a scalar gate's e^(b_t - b_sr)) for
// sr <= t < L, 0 elsewhere. That spares a pass over all of [C, C] through
// shared memory and the barrier before it; the tiles above the diagonal and
// from row tile Blocks16(L) on, which no product reads, stay unwritten.
template <GateKind G, typename stage_t>
__device__ void TcAccumulateA(const Tiles<stage_t>& s, int L, int kw, bool first, bool last,
                              float factor) {
  const int nb = Blocks16(L);
  for (int tile = Warp(); tile < nb * nb; tile += Warps()) {
    const int ti = tile / nb, si = tile % nb;
    if (si > ti) continue;
    FragAcc acc;
    if (first) {
      FragZero(acc);
    } else {
      FragLoad(acc, s.A + ti * 16 * s.lda + si * 16, s.lda);
    }
    for (int k0 = 0; k0 < kw; k0 += 16) {
      FragA<stage_t, Major::kRow> a;
      FragB<stage_t, Major::kCol> b;  // K^T
      FragLoad(a, s.Q + ti * 16 * s.ldqk + k0, s.ldqk);
      FragLoad(b, s.K + si * 16 * s.ldqk + k0, s.ldqk);
      FragMma(acc, a, b);
    }
    if (!last) {
      FragStore(s.A + ti * 16 * s.lda + si * 16, acc, s.lda);
      continue;
    }
    FragAcc coords;
    FragLoad(coords, s.Coords, 16);
    MURMUR_UNROLL
    for (int e = 0; e < coords.num_elements; ++e) {
      const int t = ti * 16 + FragRow(coords, e), sr = si * 16 + FragCol(coords, e);
      float v = 0.f;
      if (sr <= t && t < L) {
        v = factor * acc.x[e];
        if constexpr (G == GateKind::kScalar) v *= DecayBetween<G>(s, t, sr, 0);
      }
      s.A16[t * s.lda16 + sr] = FromF<stage_t>(v);
    }
  }
}

// A16 <- factor * A (times a scalar gate's e^(b_t - b_sr)) for sr <= t < L,
// 0 elsewhere, as the 16-bit operand of the next product; with kSplit also
// A16lo <- the rounding error of A16 (the operand is then A16 + A16lo). A is
// read only where t and sr are below L (the rest may be unwritten).
template <GateKind G, bool kSplit = false, typename stage_t>
__device__ void MaskToA16(const Tiles<stage_t>& s, const Dims& d, int L, float factor) {
  for (int idx = threadIdx.x; idx < d.C * d.C; idx += blockDim.x) {
    const int t = idx / d.C, sr = idx % d.C;
    float v = 0.f;
    if (sr <= t && t < L) {
      v = factor * s.A[t * s.lda + sr];
      if constexpr (G == GateKind::kScalar) v *= DecayBetween<G>(s, t, sr, 0);
    }
    const stage_t hi = FromF<stage_t>(v);
    s.A16[t * s.lda16 + sr] = hi;
    if constexpr (kSplit) s.A16lo[t * s.lda16 + sr] = FromF<stage_t>(v - ToF(hi));
  }
}

// The key tile X (kToEnd: K decayed by e^(G-b), else Q decayed by e^b) and
// the value tile Y1 of chunk c, staged in fp32 for a product X^T Y1 on CUDA
// cores, with the gates in s.b and s.G; block-collective, synced on return.
template <GateKind G, bool kToEnd, typename in_t>
__device__ void StageDecayedRows(const in_t* x, const in_t* y, const float* g, const Dims& d,
                                 const ChunkPos& c, Span kc, Span vc, Tiles<float>& s) {
  float* X = kToEnd ? s.K : s.Q;
  LoadTile</*kTC=*/false>(x, d, c, d.DK, kc, X, s.ldqk);
  LoadTile</*kTC=*/false>(y, d, c, d.DV, vc, s.Y1, s.ldy);
  LoadGates(g, d, c, kc, s);
  __syncthreads();
  if constexpr (G != GateKind::kNone) {
    DecayRowsInPlace<G, kToEnd>(s, c.L, kc.width, X);
    __syncthreads();
  }
}

// Tensor cores: the staged 16-bit key tile X [C, kc.width] (kToEnd: K, to
// be decayed by e^(G-b), else Q, by e^b) times its decay and `factor`,
// split into hi (in place in X) + lo (s.Xlo), so neither the decay nor the
// factor is rounded to 16 bits; rows from L on zero. Reads s.b and s.G
// (CumulateGates); block-collective, synced on return.
template <GateKind G, bool kToEnd, typename stage_t>
__device__ void SplitDecayedRows(const Tiles<stage_t>& s, stage_t* X, const Dims& d,
                                 const ChunkPos& c, Span kc, float factor) {
  for (int idx = threadIdx.x; idx < d.C * kc.width; idx += blockDim.x) {
    const int t = idx / kc.width, k = idx % kc.width;
    const int at = t * s.ldqk + k;
    float v = 0.f;
    if (t < c.L) {
      v = ToF(X[at]) * factor * (kToEnd ? DecayToEnd<G>(s, t, k) : DecayFromStart<G>(s, t, k));
    }
    const stage_t hi = FromF<stage_t>(v);
    X[at] = hi;
    s.Xlo[at] = FromF<stage_t>(v - ToF(hi));
  }
  __syncthreads();
}

// Tensor cores: issues the copies of rows [0, C) of chunk c, columns `col`
// of a [B,T,H,width] 16-bit tensor, into dst [C, col.width] (rows ld
// apart), rows from L on zero: 16-byte background copies (async_copy.h)
// where the layout allows, else plain stores now (LoadTile). The caller
// commits, waits and syncs before reading dst.
template <typename T>
__device__ void IssueTileCopies(const T* src, const Dims& d, const ChunkPos& c, int64_t width,
                                Span col, T* dst, int ld) {
  if (!Vec16Ok(src, width, col)) return LoadTile</*kTC=*/true>(src, d, c, width, col, dst, ld);
  const int groups = col.width / kVec16;
  for (int idx = threadIdx.x; idx < d.C * groups; idx += blockDim.x) {
    const int i = idx / groups, g = idx % groups;
    const bool valid = i < c.L;
    const T* from = valid ? src + Row(d, c.b, c.t0 + i, c.h, width) + col.start + g * kVec16 : src;
    CopyAsync16(dst + i * ld + g * kVec16, from, valid);
  }
}

// 1 and 4 on CUDA cores: slot[k][j] = factor sum_i X[i][k] Y[i][j] for one
// key tile x value tile of a chunk (StageDecayedRows).
template <typename in_t, GateKind G, bool kToEnd>
__device__ void StateTileProduct(const in_t* x, const in_t* y, const float* g, const Dims& d,
                                 const ChunkPos& c, Span kc, Span vc, float* smem,
                                 const SmemLayout& l, float factor, float* slot) {
  Tiles<float> s = Carve<float>(smem, l);
  StageDecayedRows<G, kToEnd>(x, y, g, d, c, kc, vc, s);
  const float* X = kToEnd ? s.K : s.Q;
  for (int idx = threadIdx.x; idx < kc.width * vc.width; idx += blockDim.x) {
    const int k = idx / vc.width, j = idx % vc.width;
    float acc = 0.f;
    for (int i = 0; i < c.L; ++i) acc += X[i * s.ldqk + k] * s.Y1[i * s.ldy + j];
    slot[(kc.start + k) * d.DV + vc.start + j] = factor * acc;
  }
}

// Every chunk's state split into 16-bit hi and lo parts, as
// ChunkStateWalkKernel writes them: slot n of batch-head bh holds element
// [k][j] at (bh (N + 1) + n) DK DV + k DV + j of hi and of lo. fp16 has
// 5 exponent bits: its states are stored scaled, S = scale (hi + lo) with
// one power-of-two scale per 16x16 fragment (SplitExponentFor), at
// (bh (N + 1) + n) (DK / 16) (DV / 16) + (k / 16) (DV / 16) + j / 16 of
// `scale`; without, a state above 65504 would be inf and one below 2^-14
// lose its low bits. bf16 has fp32's exponent range: no scales (null).
// All null on the CUDA-core path, whose states are fp32.
template <typename split_t>
struct SplitStates {
  const split_t* hi;
  const split_t* lo;
  const float* scale;
};
template <typename split_t>
constexpr bool kScaledSplit = std::is_same_v<split_t, __half>;

// Slot n of batch-head bh: the same three pointers, at the slot's first
// element and first scale.
template <typename split_t>
__device__ __forceinline__ SplitStates<split_t> SplitSlot(const SplitStates<split_t>& all,
                                                          const Dims& d, int64_t bh, int64_t n) {
  if (all.hi == nullptr) return {nullptr, nullptr, nullptr};  // CUDA cores: no split copy
  const int64_t slot = bh * (d.N + 1) + n;
  const int64_t at = slot * d.DK * d.DV;
  const float* scale = kScaledSplit<split_t> ? all.scale + slot * (d.DK / 16) * (d.DV / 16)
                                             : nullptr;
  return {all.hi + at, all.lo + at, scale};
}

// The exponent s of the scale 2^s a fragment whose largest |element| is
// max_abs is divided by before it is split: max_abs / 2^s in [128, 256), so
// hi stays far from fp16's 65504 and lo (about 2^-11 of hi) above its 2^-14
// normal floor; s >= -126, so 2^s and 2^-s are normal floats. 0 for a
// fragment of zeros, inf or NaN (those stay as they are).
__device__ __forceinline__ int SplitExponentFor(float max_abs) {
  if (!(max_abs > 0.f) || max_abs > 3.4e38f) return 0;
  int e = 0;
  frexpf(max_abs, &e);  // max_abs = m 2^e, m in [0.5, 1)
  return e - 8 < -126 ? -126 : e - 8;
}

// The state tile a walking block holds on tensor cores, over its 8 warps as
// a 2 x 4 grid: warp (wr, wc) owns key tiles wr, wr + 2, ... (kSlots of
// them) and value tile wc, 16x16 fragments in registers. The state walks
// (ChunkStateWalkKernel) hold at most kCudaWalkTile x kCudaWalkTile (2
// slots), the fused forward DK x 64 (4 slots: up to 128 key rows).
static_assert(kThreads == 256, "the 2 x 4 warp grid needs 8 warps");
using StateFrags = FragAcc[2];
using WideStateFrags = FragAcc[4];
struct StateGrid {
  int nk, nv, wr, wc;  // 16-wide key and value tiles; this warp's place in the grid
};
__device__ __forceinline__ StateGrid StateGridOf(Span kc, Span vc) {
  return {kc.width / 16, vc.width / 16, Warp() % 2, Warp() / 2};
}

// acc += X^T Y1 over the chunk's rows (SplitDecayedRows; with kSplit X as hi +
// lo): per 16 rows a warp loads 2 X^T fragments and 1 Y fragment.
template <bool kSplit, int kSlots, typename stage_t>
__device__ void TcStateTileMma(FragAcc (&acc)[kSlots], const Tiles<stage_t>& s, const stage_t* X,
                               int L, const StateGrid& grid) {
  if (grid.wc >= grid.nv) return;
  const int rows = Blocks16(L) * 16;
  for (int i0 = 0; i0 < rows; i0 += 16) {
    FragB<stage_t, Major::kRow> b;
    FragLoad(b, s.Y1 + i0 * s.ldy + grid.wc * 16, s.ldy);
    MURMUR_UNROLL
    for (int i = 0; i < kSlots; ++i) {
      const int ki = grid.wr + 2 * i;
      if (ki >= grid.nk) continue;
      FragA<stage_t, Major::kCol> a;  // X^T
      FragLoad(a, X + i0 * s.ldqk + ki * 16, s.ldqk);
      FragMma(acc[i], a, b);
      if constexpr (kSplit) {
        FragLoad(a, s.Xlo + i0 * s.ldqk + ki * 16, s.ldqk);
        FragMma(acc[i], a, b);
      }
    }
  }
}

// f(fragment, ki) for each of the warp's state fragments, key tile ki and
// value tile grid.wc of the block's state tile; a warp-uniform choice, so f
// may be warp-collective.
template <int kSlots, typename F>
__device__ __forceinline__ void ForEachStateFragment(FragAcc (&acc)[kSlots],
                                                     const StateGrid& grid, F&& f) {
  MURMUR_UNROLL
  for (int i = 0; i < kSlots; ++i) {
    const int ki = grid.wr + 2 * i;
    if (ki >= grid.nk || grid.wc >= grid.nv) continue;
    f(acc[i], ki);
  }
}
// f(value, k, j) for every element of the warp's state fragments, k and j
// its row and column in the block's state tile (coords: FillCoordTable).
template <int kSlots, typename F>
__device__ __forceinline__ void ForEachStateElement(FragAcc (&acc)[kSlots], const FragAcc& coords,
                                                    const StateGrid& grid, F&& f) {
  ForEachStateFragment(acc, grid, [&](FragAcc& frag, int ki) {
    MURMUR_UNROLL
    for (int e = 0; e < coords.num_elements; ++e) {
      f(frag.x[e], ki * 16 + FragRow(coords, e), grid.wc * 16 + FragCol(coords, e));
    }
  });
}

// 1. Slot n + 1 <- (K e^(G-b))^T V for this chunk's key x value tile;
// gam[n] <- G (0 without gates) from the first value tile. CUDA cores (the
// tensor-core path runs ChunkStateWalkKernel instead of 1 and 2).
template <typename in_t, GateKind G>
__global__ void __launch_bounds__(kThreads)
    ChunkUpdateKernel(LinearAttnForwardParams p, Dims d, SmemLayout l, float* states, float* gam) {
  MURMUR_DYNAMIC_SMEM(smem);
  const ChunkPos c = ThisChunk(d, d.nK * d.nV);
  const Span kc = TileOf(c.tile / d.nV, d.TK, d.DK), vc = TileOf(c.tile % d.nV, d.TV, d.DV);
  StateTileProduct<in_t, G, /*kToEnd=*/true>(
      static_cast<const in_t*>(p.k), static_cast<const in_t*>(p.v),
      static_cast<const float*>(p.g), d, c, kc, vc, smem, l, 1.f,
      StateSlot(states, d, c.bh, c.n + 1));
  if (c.tile % d.nV == 0) {
    const Tiles<float> s = Carve<float>(smem, l);  // G is read-only after the first barrier
    for (int k = threadIdx.x; k < kc.width; k += blockDim.x) {
      gam[(c.bh * d.N + c.n) * d.DK + kc.start + k] = LogTotal<G>(s, k);
    }
  }
}

// 2 and 5. The elementwise recurrence over the chunks' slots, one thread per
// state element (CUDA cores). Forward (states): slot 0 <- h0 (or 0), then in
// chunk order slot n + 1 <- e^(G_n) slot n + slot n + 1 (which held chunk
// n's update). Reverse (dstates): slot N <- dS_T (or 0), then slot n <-
// e^(G_n) slot n + 1 + slot n (which held chunk n's dS term), so slot n + 1
// ends as the gradient of the state after chunk n. `last` (may be null)
// gets the final value: the final state, or the gradient of h0.
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
    float* slot = StateSlot(slots, d, bh, kReverse ? n : n + 1);
    value = __expf(gam[(bh * d.N + n) * d.DK + k]) * value + slot[idx];
    slot[idx] = value;
  }
  if (last != nullptr) last[bh * elems + idx] = value;
}

// A state fragment split into 16-bit hi + lo (SplitStates): put(e, hi, lo)
// for each of the lane's elements, hi = split_t(v), lo = split_t(v - hi),
// fp16's v first divided by the fragment's power-of-two scale (exact),
// which it returns (1 for bf16: no scales). Warp-collective.
template <typename split_t, typename F>
__device__ __forceinline__ float SplitFragment(const FragAcc& frag, F&& put) {
  [[maybe_unused]] float inv = 1.f, scale = 1.f;
  if constexpr (kScaledSplit<split_t>) {
    const int exponent = SplitExponentFor(FragMaxAbs(frag));
    inv = ldexpf(1.f, -exponent);
    scale = ldexpf(1.f, exponent);
  }
  MURMUR_UNROLL
  for (int e = 0; e < frag.num_elements; ++e) {
    const float v = frag.x[e] * inv;
    const split_t h = FromF<split_t>(v);
    put(e, h, FromF<split_t>(v - ToF(h)));
  }
  return scale;
}

// 1+2 and 4+5 on tensor cores, fused: one block per (batch-head, key tile,
// value tile) of the state walks the chunks in order (kReverse: from the
// last), holding its state tile in registers (StateGrid), and writes every
// chunk's state once, as the 16-bit hi + lo pair the products with the
// states read (hi = split_t(v), lo = split_t(v - hi), fp16 v first divided
// by its fragment's scale; SplitStates): the per-chunk updates and fp32
// states never cross memory.
//   forward (X = K e^(G_n - b), Y = V): S <- h0 (or 0); per chunk n:
//     slot n <- S; S <- e^(G_n) S + X^T Y. Then slot N <- S, and `last`
//     (the final state, fp32) <- S.
//   reverse (X = scale Q e^b, Y = dO): S <- dS_T (or 0); slot N <- S; per
//     chunk n from the last: S <- e^(G_n) S + X^T Y; slot n <- S. `last`
//     (dh0) <- S.
// X is split (hi + lo) wherever it is not the raw input: with a gate, and
// in the reverse walk (the scale).
// A chunk's raw tiles (x, y, the gates) are double-buffered (q/k, y1/y2,
// b/b2: chunk i of the walk in buffer i % 2): their copies are issued
// before the previous chunk's products and land in the background
// (async_copy.h), so a step waits on memory only when its products were
// shorter than the copies.
// The tiles are the launch plan's, at most kCudaWalkTile wide (Walking()),
// so a batch-head is (D / 64)^2 or more blocks that walk at once.
template <typename in_t, GateKind G, bool kReverse>
__global__ void __launch_bounds__(kThreads)
    ChunkStateWalkKernel(Dims d, SmemLayout l, const in_t* x, const in_t* y, const float* g,
                         const float* first, in_t* hi, in_t* lo, float* scales, float* last) {
  MURMUR_DYNAMIC_SMEM(smem);
  Tiles<in_t> s = Carve<in_t>(smem, l);
  const int per_bh = d.nK * d.nV;
  const int64_t bh = blockIdx.x / per_bh;
  const int tile = static_cast<int>(blockIdx.x % per_bh);
  const Span kc = TileOf(tile / d.nV, d.TK, d.DK), vc = TileOf(tile % d.nV, d.TV, d.DV);
  const StateGrid grid = StateGridOf(kc, vc);
  constexpr bool kSplit = G != GateKind::kNone || kReverse;
  const int64_t elems = d.DK * d.DV;
  FillCoordTable(s.Coords);
  __syncthreads();
  FragAcc coords;
  FragLoad(coords, s.Coords, 16);
  StateFrags acc;
  ForEachStateElement(acc, coords, grid, [&](float& v, int k, int j) {
    v = first != nullptr ? first[bh * elems + (kc.start + k) * d.DV + vc.start + j] : 0.f;
  });
  const int frag_cols = static_cast<int>(d.DV / 16);
  auto store = [&](int64_t n) {
    const int64_t slot = bh * (d.N + 1) + n;
    ForEachStateFragment(acc, grid, [&](FragAcc& frag, int ki) {
      const float scale = SplitFragment<in_t>(frag, [&](int e, in_t high, in_t low) {
        const int64_t at = slot * elems + (kc.start + ki * 16 + FragRow(coords, e)) * d.DV +
                           vc.start + grid.wc * 16 + FragCol(coords, e);
        hi[at] = high;
        lo[at] = low;
      });
      if (kScaledSplit<in_t> && threadIdx.x % 32 == 0) {
        scales[(slot * (d.DK / 16) + kc.start / 16 + ki) * frag_cols + vc.start / 16 + grid.wc] =
            scale;
      }
    });
  };
  // Chunk i's buffers (selected, not indexed: an indexed array of pointers
  // would sit in local memory).
  auto xs = [&](int64_t i) { return i % 2 == 0 ? s.Q : s.K; };
  auto ys = [&](int64_t i) { return i % 2 == 0 ? s.Y1 : s.Y2; };
  auto bs = [&](int64_t i) { return i % 2 == 0 ? s.b : s.b2; };
  auto chunk = [&](int64_t i) { return ChunkAt(d, bh, kReverse ? d.N - 1 - i : i, tile); };
  auto issue = [&](int64_t i) {  // chunk i's copies into buffer i % 2, as one group
    const ChunkPos c = chunk(i);
    IssueTileCopies(x, d, c, d.DK, kc, xs(i), s.ldqk);
    IssueTileCopies(y, d, c, d.DV, vc, ys(i), s.ldy);
    if constexpr (G != GateKind::kNone) {
      float* const to = bs(i);
      ForEachRawGate(g, d, c, kc, [&](const float* from, int idx) { CopyAsync4(to + idx, from); });
    }
    CommitCopies();
  };
  if (d.N > 0) issue(0);
  if constexpr (kReverse) store(d.N);
  for (int64_t i = 0; i < d.N; ++i) {
    const ChunkPos c = chunk(i);
    if constexpr (!kReverse) store(c.n);
    // Chunk i - 1's buffers, which chunk i + 1's copies reuse, are no longer read.
    if (i > 0) __syncthreads();
    if (i + 1 < d.N) {
      issue(i + 1);
      WaitCopies<1>();  // all but chunk i + 1's: this thread's copies of chunk i
    } else {
      WaitCopies<0>();
    }
    __syncthreads();  // every thread's copies of chunk i have landed
    in_t* const X = xs(i);
    Tiles<in_t> now = s;  // chunk i's value tile and gates where the products read them
    now.Y1 = ys(i);
    now.b = bs(i);
    if constexpr (G != GateKind::kNone) {
      CumulateGates(d, c, kc, now);
      __syncthreads();
    }
    if constexpr (kSplit) {
      SplitDecayedRows<G, /*kToEnd=*/!kReverse>(now, X, d, c, kc, kReverse ? d.scale : 1.f);
    }
    if constexpr (G != GateKind::kNone) {
      ForEachStateElement(acc, coords, grid,
                          [&](float& v, int k, int) { v *= __expf(LogTotal<G>(now, k)); });
    }
    TcStateTileMma<kSplit>(acc, now, X, c.L, grid);
    if constexpr (kReverse) store(c.n);
  }
  if constexpr (!kReverse) store(d.N);
  if (last != nullptr) {
    ForEachStateElement(acc, coords, grid, [&](float& v, int k, int j) {
      last[bh * elems + (kc.start + k) * d.DV + vc.start + j] = v;
    });
  }
}

// Accumulators a warp keeps in registers across a kernel (tensor cores):
// the 16x16 tiles of a [16 Blocks16(L), width] output it owns (OwnedTiles),
// at most one 16-column tile per warp and kMaxRowTiles row tiles.
constexpr int kMaxRowTiles = kCudaMaxChunk / 16;
static_assert(kCudaMaxHeadDim / 16 <= kThreads / 32, "a warp owns at most one 16-column tile");
struct WarpTiles {
  int col;        // the column tile; none when >= the output's column tiles
  int first_row;  // row tile of slot r: first_row + r * step
  int step;
  __device__ __forceinline__ int Row(int r) const { return first_row + r * step; }
};
// The tiles of an output with `nc` column tiles that this warp owns: the
// warps split into nc groups, one per column, that deal its row tiles out.
// Depends only on nc, so a warp keeps its tiles from call to call.
__device__ __forceinline__ WarpTiles OwnedTiles(int nc) {
  const int per_col = Warps() / nc;
  return {Warp() / per_col, Warp() % per_col, per_col};
}

// f(r, e, t, k) for element e of the warp's row-tile slot r (OwnedTiles of
// a [C, width] output) at row t < L, column k (coords: FillCoordTable);
// rows from L on (a ragged chunk's last tile) are skipped.
template <typename F>
__device__ __forceinline__ void ForEachOwnedElement(const WarpTiles& own, int width, int L,
                                                    const FragAcc& coords, F&& f) {
  const int nt = Blocks16(L);
  MURMUR_UNROLL
  for (int r = 0; r < kMaxRowTiles; ++r) {
    const int ti = own.Row(r);
    if (own.col >= width / 16 || ti >= nt) continue;
    MURMUR_UNROLL
    for (int e = 0; e < coords.num_elements; ++e) {
      const int t = ti * 16 + FragRow(coords, e);
      if (t < L) f(r, e, t, own.col * 16 + FragCol(coords, e));
    }
  }
}

// The inter-chunk term of the output and dv kernels, zeroed: with kTC in
// `acc`, the registers of the warp owning each tile (OwnedTiles); else in
// Acc1's [L, width] elements, each one thread's until the last barrier.
template <bool kTC, typename TS>
__device__ void ZeroInterTerm(FragAcc (&acc)[kMaxRowTiles], const TS& s, int L, int width) {
  if constexpr (kTC) {
    MURMUR_UNROLL
    for (FragAcc& a : acc) FragZero(a);
  } else {
    for (int idx = threadIdx.x; idx < L * width; idx += blockDim.x) {
      s.Acc1[idx / width * s.ldacc + idx % width] = 0.f;
    }
  }
}

// Tensor cores: acc (+)= X[C, xw] times the state tile at rows
// [r0, r0 + xw) x cols [c0, c0 + ow) of S (kTransposed: times the transpose
// of the state tile at rows [c0, c0 + ow) x cols [r0, r0 + xw)), X a staged
// 16-bit tile with rows xld apart (zeros past L), the state as hi + lo; acc
// the warp's tiles of the [C, ow] product (OwnedTiles(ow / 16)). The state's
// fragments load from global memory, each once per block: a warp loads hi
// and lo of its column once per 16 rows of the state for all its row tiles.
// The kernels ask L2 for the state first (PrefetchStateRows), so each
// step's loads wait on L2, not device memory. (Loading one step ahead in
// registers costs too many: ptxas sm_90 put output and dv at 115-128
// registers instead of 80-100, one block fewer per SM where shared memory
// allows three, and dq/dk at 167-175 instead of 128.)
// Scaled states (fp16) go through a second accumulator: acc += f (a hi + a lo).
// S's rows are ld elements apart, its fp16 scales scale_cols per row of
// fragments (a workspace slot: DV and DV / 16; the fused forward's shared
// copy: its pitch and value tiles).
template <bool kTransposed, typename stage_t>
__device__ void TcStateProduct(const stage_t* X, int xw, int xld, SplitStates<stage_t> S, int ld,
                               [[maybe_unused]] int scale_cols, int r0, int c0, int L, int ow,
                               FragAcc (&acc)[kMaxRowTiles]) {
  const WarpTiles own = OwnedTiles(ow / 16);
  if (own.col >= ow / 16) return;
  const int nt = Blocks16(L);
  for (int k0 = 0; k0 < xw; k0 += 16) {
    // B[k][j]: S[r0 + k0 + k][c0 + 16 col + j], or transposed
    // S[c0 + 16 col + j][r0 + k0 + k] (column-major B).
    const int row = kTransposed ? c0 + own.col * 16 : r0 + k0;
    const int col = kTransposed ? r0 + k0 : c0 + own.col * 16;
    const int64_t at = static_cast<int64_t>(row) * ld + col;
    FragB<stage_t, kTransposed ? Major::kCol : Major::kRow> b_hi, b_lo;
    FragLoad(b_hi, S.hi + at, ld);
    FragLoad(b_lo, S.lo + at, ld);
    [[maybe_unused]] float f = 1.f;
    if constexpr (kScaledSplit<stage_t>) f = S.scale[row / 16 * scale_cols + col / 16];
    MURMUR_UNROLL
    for (int r = 0; r < kMaxRowTiles; ++r) {
      const int ti = own.Row(r);
      if (ti >= nt) continue;
      FragA<stage_t, Major::kRow> a;
      FragLoad(a, X + ti * 16 * xld + k0, xld);
      if constexpr (kScaledSplit<stage_t>) {
        FragAcc part;
        FragZero(part);
        FragMma(part, a, b_hi);
        FragMma(part, a, b_lo);
        FragAxpy(acc[r], f, part);
      } else {
        FragMma(acc[r], a, b_hi);
        FragMma(acc[r], a, b_lo);
      }
    }
  }
}
template <bool kTransposed, typename stage_t>
__device__ __forceinline__ void TcStateProduct(const stage_t* X, int xw, int xld,
                                               SplitStates<stage_t> S, const Dims& d, int r0,
                                               int c0, int L, int ow,
                                               FragAcc (&acc)[kMaxRowTiles]) {
  TcStateProduct<kTransposed>(X, xw, xld, S, static_cast<int>(d.DV), static_cast<int>(d.DV / 16),
                              r0, c0, L, ow, acc);
}

// Asks L2 for slot rows [first_row, first_row + rows) of a split state
// (hi and lo, every column) ahead of the state products that read them,
// which come after a kernel's staging and intra-chunk products: their
// loads then wait on L2 rather than on device memory (PrefetchL2). Tensor
// cores only: the CUDA-core path (fp32 states, stage_t float) compiles to
// nothing. The prefetch itself is a call, not inlined, with its arguments
// by reference: ptxas sm_90 then gives the output, dv and dq/dk kernels
// the registers and spills they had without it (a 24-48 byte stack frame
// holds the arguments, once per block); inlined it cost spills (up to 68
// bytes), by value up to 34 registers.
template <typename stage_t>
__device__ MURMUR_NOINLINE void PrefetchSplitRows(const SplitStates<stage_t>& S, const Dims& d,
                                                 int first_row, int rows) {
  const int64_t at = static_cast<int64_t>(first_row) * d.DV;
  const int64_t bytes = static_cast<int64_t>(rows) * d.DV * static_cast<int64_t>(sizeof(stage_t));
  PrefetchL2(S.hi + at, bytes);
  PrefetchL2(S.lo + at, bytes);
}
template <typename stage_t>
__device__ __forceinline__ void PrefetchStateRows(const SplitStates<stage_t>& S, const Dims& d,
                                                  int first_row, int rows) {
  if constexpr (!std::is_same_v<stage_t, float>) PrefetchSplitRows(S, d, first_row, rows);
}

// CUDA cores: out[r][o] += sum_x X[r][x] S[r0 + x][c0 + o] (kTransposed:
// S[c0 + o][r0 + x]) for rows r < L, X [*, xw] staged fp32 (rows xld apart),
// S an fp32 state (row stride DV), out [*, ow] (rows old apart); each
// element of out one thread's.
template <bool kTransposed>
__device__ void CoreStateProduct(const float* X, int xw, int xld, const float* S, const Dims& d,
                                 int r0, int c0, int L, float* out, int ow, int old) {
  const int64_t ld = d.DV;
  for (int idx = threadIdx.x; idx < L * ow; idx += blockDim.x) {
    const int r = idx / ow, o = idx % ow;
    float sum = 0.f;
    for (int x = 0; x < xw; ++x) {
      sum += X[r * xld + x] * (kTransposed ? S[(c0 + o) * ld + r0 + x] : S[(r0 + x) * ld + c0 + o]);
    }
    out[r * old + o] += sum;
  }
}

// A (+)= Q K^T (with the gate's decay) for one key tile: on tensor cores
// where the decay factors out of the product (no gate, scalar gate), the
// last key tile writing the 16-bit operand A16 (factor A, masked, with a
// scalar gate's decay; TcAccumulateA); elementwise into A otherwise (a
// per-dim gate on tensor cores then goes through MaskToA16).
template <GateKind G, bool kTC, typename TS>
__device__ void IntraA(const TS& s, int L, int kw, bool first, bool last, float factor) {
  if constexpr (kTC && G != GateKind::kPerDim) {
    TcAccumulateA<G>(s, L, kw, first, last, factor);
  } else {
    AccumulateA<G>(s, L, kw, first, last && !kTC);
  }
}

// Tensor cores: acc <- scale acc + A16 Y (A16 the masked, scaled A; Y the
// staged [C, vw] value tile) for each tile the warp owns (OwnedTiles(vw /
// 16)), staged into Acc1 for the 16-byte stores that follow a barrier.
template <typename stage_t>
__device__ void StageOutputTiles(FragAcc (&acc)[kMaxRowTiles], const Tiles<stage_t>& s,
                                 const stage_t* Y, int L, int vw, float scale) {
  const WarpTiles own = OwnedTiles(vw / 16);
  const int nt = Blocks16(L);
  MURMUR_UNROLL
  for (int r = 0; r < kMaxRowTiles; ++r) {
    const int ti = own.Row(r);
    if (own.col >= vw / 16 || ti >= nt) continue;
    FragScale(acc[r], scale);
    for (int si = 0; si <= ti; ++si) {
      FragA<stage_t, Major::kRow> a;
      FragB<stage_t, Major::kRow> b;
      FragLoad(a, s.A16 + ti * 16 * s.lda16 + si * 16, s.lda16);
      FragLoad(b, Y + si * 16 * s.ldy + own.col * 16, s.ldy);
      FragMma(acc[r], a, b);
    }
    FragStore(s.Acc1 + ti * 16 * s.ldacc + own.col * 16, acc[r], s.ldacc);
  }
}

// 3. O = scale ((Q e^b) S_n + A V) for this chunk's value tile: A and the
// inter-chunk term are accumulated over the key tiles. With kTC, Q K^T,
// A V and (Q e^b) S_n (against the state's split copy) run on tensor cores.
template <typename in_t, GateKind G, bool kTC>
__global__ void __launch_bounds__(kThreads)
    ChunkOutputKernel(LinearAttnForwardParams p, Dims d, SmemLayout l, const float* states,
                      SplitStates<Stage<in_t, kTC>> split_states) {
  MURMUR_DYNAMIC_SMEM(smem);
  using stage_t = Stage<in_t, kTC>;
  Tiles<stage_t> s = Carve<stage_t>(smem, l);
  const ChunkPos c = ThisChunk(d, d.nV);
  const Span vc = TileOf(c.tile, d.TV, d.DV);
  const int vw = vc.width;
  const float* S = StateSlot(states, d, c.bh, c.n);
  const SplitStates<stage_t> split = SplitSlot(split_states, d, c.bh, c.n);
  PrefetchStateRows(split, d, 0, static_cast<int>(d.DK));  // every key tile's rows, read below
  const int elems = c.L * vw;  // (t, j)
  [[maybe_unused]] FragAcc acc[kMaxRowTiles];  // the inter-chunk term (ZeroInterTerm)
  ZeroInterTerm<kTC>(acc, s, c.L, vw);
  // For TcAccumulateA's last key tile; read after the first barrier below.
  if constexpr (kTC && G != GateKind::kPerDim) FillCoordTable(s.Coords);
  for (int kt = 0; kt < d.nK; ++kt) {
    const Span kc = TileOf(kt, d.TK, d.DK);
    if (kt > 0) __syncthreads();  // the previous key tile is no longer read
    LoadTile<kTC>(static_cast<const in_t*>(p.q), d, c, d.DK, kc, s.Q, s.ldqk);
    LoadTile<kTC>(static_cast<const in_t*>(p.k), d, c, d.DK, kc, s.K, s.ldqk);
    LoadGates(static_cast<const float*>(p.g), d, c, kc, s);
    __syncthreads();
    IntraA<G, kTC>(s, c.L, kc.width, kt == 0, kt == d.nK - 1, d.scale);
    if constexpr (G != GateKind::kNone) {  // Q is used decayed from here on
      __syncthreads();
      DecayRowsInPlace<G, /*kToEnd=*/false>(s, c.L, kc.width, s.Q);
      __syncthreads();
    }
    // += (Q e^b) S_n
    if constexpr (kTC) {
      TcStateProduct</*kTransposed=*/false>(s.Q, kc.width, s.ldqk, split, d, kc.start, vc.start,
                                            c.L, vw, acc);
    } else {
      CoreStateProduct</*kTransposed=*/false>(s.Q, kc.width, s.ldqk, S, d, kc.start, vc.start, c.L,
                                              s.Acc1, vw, s.ldacc);
    }
  }
  // Y1 is not read above: one barrier completes both A and the V tile.
  LoadTile<kTC>(static_cast<const in_t*>(p.v), d, c, d.DV, vc, s.Y1, s.ldy);
  __syncthreads();
  in_t* o = static_cast<in_t*>(p.o);
  if constexpr (kTC) {
    if constexpr (G == GateKind::kPerDim) {  // else the last IntraA wrote A16
      MaskToA16<G>(s, d, c.L, d.scale);
      __syncthreads();
    }
    // O = scale acc + (scale A) V per owned tile, staged in Acc1 for 16-byte stores.
    StageOutputTiles(acc, s, s.Y1, c.L, vw, d.scale);
    __syncthreads();
    StoreTile(s.Acc1, s.ldacc, d, c, d.DV, vc, o);
  } else {
    for (int idx = threadIdx.x; idx < elems; idx += blockDim.x) {
      const int t = idx / vw, j = idx % vw;
      float sum = s.Acc1[t * s.ldacc + j];
      for (int sr = 0; sr <= t; ++sr) sum += s.A[t * s.lda + sr] * s.Y1[sr * s.ldy + j];
      o[Row(d, c.b, c.t0 + t, c.h, d.DV) + vc.start + j] = FromF<in_t>(d.scale * sum);
    }
  }
}

// The forward in one pass (tensor cores, no gate or a scalar gate; launch
// plan: FusedForwardValueTile): a block per (batch-head, value tile of vw
// columns) walks the chunks in order holding the state tile S [DK, vw] in
// registers (a 2 x 4 warp grid, WideStateFrags), and per chunk n
//   A16 <- scale (Q K^T) (.) D, masked  (TcAccumulateA)
//   Shi, Slo <- S_n as 16-bit hi + lo   (SplitFragment, in shared memory)
//   O   <- scale (e^b (Q S_n) + A V)    (staged in Acc1, stored 16 bytes wide)
//   S   <- e^(G_n) S + (K e^(G_n - b))^T V (the decayed K split hi + lo)
// so neither the chunk states nor A cross device memory: it reads q, k, v
// (and g) once per value tile and writes o and the final state. Chunk
// n + 1's tiles are copied in the background (cp.async; double buffers
// q/q2, k/k2, y1/y2, b/b2) while chunk n computes, as in
// ChunkStateWalkKernel. Parallel over B H (DV / vw) blocks and serial over
// the chunks; the chunk-parallel forward (update walk + ChunkOutputKernel)
// is the alternative where that is too few blocks or it does not fit.
template <typename in_t, GateKind G>
__global__ void __launch_bounds__(kThreads)
    FusedForwardKernel(LinearAttnForwardParams p, Dims d, SmemLayout l) {
  static_assert(G != GateKind::kPerDim, "a per-dim gate's A is elementwise: not fused");
  MURMUR_DYNAMIC_SMEM(smem);
  Tiles<in_t> s = Carve<in_t>(smem, l);
  const int64_t bh = blockIdx.x / d.nV;
  const int tile = static_cast<int>(blockIdx.x % d.nV);
  const Span kc{0, static_cast<int>(d.DK)}, vc = TileOf(tile, d.TV, d.DV);
  const int vw = vc.width;
  const StateGrid grid = StateGridOf(kc, vc);
  const int64_t elems = d.DK * d.DV;
  const auto* h0 = static_cast<const float*>(p.initial_state);
  FillCoordTable(s.Coords);
  __syncthreads();
  FragAcc coords;
  FragLoad(coords, s.Coords, 16);
  WideStateFrags state;
  ForEachStateElement(state, coords, grid, [&](float& v, int k, int j) {
    v = h0 != nullptr ? h0[bh * elems + k * d.DV + vc.start + j] : 0.f;
  });
  const SplitStates<in_t> shared_state{s.Shi, s.Slo, s.Sscale};
  // Chunk n's buffers (selected, not indexed: see ChunkStateWalkKernel).
  auto qs = [&](int64_t n) { return n % 2 == 0 ? s.Q : s.Q2; };
  auto ks = [&](int64_t n) { return n % 2 == 0 ? s.K : s.K2; };
  auto vs = [&](int64_t n) { return n % 2 == 0 ? s.Y1 : s.Y2; };
  auto bs = [&](int64_t n) { return n % 2 == 0 ? s.b : s.b2; };
  auto issue = [&](int64_t n) {  // chunk n's copies into buffer n % 2, as one group
    const ChunkPos c = ChunkAt(d, bh, n, tile);
    IssueTileCopies(static_cast<const in_t*>(p.q), d, c, d.DK, kc, qs(n), s.ldqk);
    IssueTileCopies(static_cast<const in_t*>(p.k), d, c, d.DK, kc, ks(n), s.ldqk);
    IssueTileCopies(static_cast<const in_t*>(p.v), d, c, d.DV, vc, vs(n), s.ldy);
    if constexpr (G != GateKind::kNone) {
      float* const to = bs(n);
      ForEachRawGate(static_cast<const float*>(p.g), d, c, kc,
                     [&](const float* from, int idx) { CopyAsync4(to + idx, from); });
    }
    CommitCopies();
  };
  in_t* o = static_cast<in_t*>(p.o);
  if (d.N > 0) issue(0);
  for (int64_t n = 0; n < d.N; ++n) {
    const ChunkPos c = ChunkAt(d, bh, n, tile);
    // Chunk n - 1's buffers, which chunk n + 1's copies reuse, were last
    // read before the barrier ahead of the previous chunk's output stores.
    if (n + 1 < d.N) {
      issue(n + 1);
      WaitCopies<1>();  // all but chunk n + 1's: this thread's copies of chunk n
    } else {
      WaitCopies<0>();
    }
    __syncthreads();  // every thread's copies of chunk n have landed
    Tiles<in_t> now = s;  // chunk n's tiles where the products read them
    now.Q = qs(n);
    now.K = ks(n);
    now.Y1 = vs(n);
    now.b = bs(n);
    if constexpr (G != GateKind::kNone) {
      CumulateGates(d, c, kc, now);
      __syncthreads();
    }
    TcAccumulateA<G>(now, c.L, kc.width, /*first=*/true, /*last=*/true, d.scale);
    ForEachStateFragment(state, grid, [&](FragAcc& frag, int ki) {
      const float scale = SplitFragment<in_t>(frag, [&](int e, in_t high, in_t low) {
        const int at = (ki * 16 + FragRow(coords, e)) * s.lds + grid.wc * 16 + FragCol(coords, e);
        s.Shi[at] = high;
        s.Slo[at] = low;
      });
      if (kScaledSplit<in_t> && threadIdx.x % 32 == 0) s.Sscale[ki * (vw / 16) + grid.wc] = scale;
    });
    __syncthreads();  // A16, Shi, Slo, Sscale complete
    // O = scale (e^b (Q S_n) + A V) per owned tile, staged in Acc1.
    FragAcc acc[kMaxRowTiles];
    MURMUR_UNROLL
    for (FragAcc& a : acc) FragZero(a);
    TcStateProduct</*kTransposed=*/false>(now.Q, kc.width, s.ldqk, shared_state, s.lds, vw / 16,
                                          0, 0, c.L, vw, acc);
    if constexpr (G != GateKind::kNone) {
      ForEachOwnedElement(OwnedTiles(vw / 16), vw, c.L, coords, [&](int r, int e, int t, int) {
        acc[r].x[e] *= DecayFromStart<G>(now, t, 0);
      });
    }
    StageOutputTiles(acc, s, now.Y1, c.L, vw, d.scale);
    // S <- e^(G_n) S + (K e^(G_n - b))^T V: K is read above only by
    // TcAccumulateA, before the last barrier, so it is decayed in place.
    constexpr bool kSplit = G != GateKind::kNone;
    if constexpr (kSplit) {
      SplitDecayedRows<G, /*kToEnd=*/true>(now, now.K, d, c, kc, 1.f);  // ends in a barrier
      ForEachStateElement(state, coords, grid,
                          [&](float& v, int k, int) { v *= __expf(LogTotal<G>(now, k)); });
    }
    TcStateTileMma<kSplit>(state, now, now.K, c.L, grid);
    // Acc1 complete, and chunk n's buffers no longer read: the next
    // chunk's copies may go into them. (Acc1 is next written after two
    // more barriers.)
    __syncthreads();
    StoreTile(s.Acc1, s.ldacc, d, c, d.DV, vc, o);
  }
  if (auto* last = static_cast<float*>(p.final_state)) {
    ForEachStateElement(state, coords, grid, [&](float& v, int k, int j) {
      last[bh * elems + k * d.DV + vc.start + j] = v;
    });
  }
}

// 4. Slot n of dstates <- scale (Q e^b)^T dO for this chunk's key x value
// tile. CUDA cores (the tensor-core path walks the chunks instead).
template <typename in_t, GateKind G>
__global__ void __launch_bounds__(kThreads)
    ChunkDStateKernel(LinearAttnBackwardParams bp, Dims d, SmemLayout l, float* dstates) {
  MURMUR_DYNAMIC_SMEM(smem);
  const ChunkPos c = ThisChunk(d, d.nK * d.nV);
  const Span kc = TileOf(c.tile / d.nV, d.TK, d.DK), vc = TileOf(c.tile % d.nV, d.TV, d.DV);
  StateTileProduct<in_t, G, /*kToEnd=*/false>(
      static_cast<const in_t*>(bp.fwd.q), static_cast<const in_t*>(bp.d_o),
      static_cast<const float*>(bp.fwd.g), d, c, kc, vc, smem, l, d.scale,
      StateSlot(dstates, d, c.bh, c.n));
}

// dq and dk of row t, key column k of the tile from their inter-chunk terms
// (in: dO S_n^T and V dS^T; out: finished), with the intra-chunk sums taken
// elementwise over dA (scaled and masked, in s.A): the CUDA-core path, and
// a per-dim gate's on tensor cores (its decay sits inside the sum).
template <GateKind G, typename TS>
__device__ __forceinline__ void DqDkElementwise(const TS& s, const Dims& d, int L, int t, int k,
                                                float& dq, float& dk) {
  dq *= d.scale * DecayFromStart<G>(s, t, k);
  for (int sr = 0; sr <= t; ++sr) {
    dq += s.A[t * s.lda + sr] * ToF(s.K[sr * s.ldqk + k]) * DecayPerDim<G>(s, t, sr, k);
  }
  dk *= DecayToEnd<G>(s, t, k);
  for (int tt = t; tt < L; ++tt) {
    dk += s.A[tt * s.lda + t] * ToF(s.Q[tt * s.ldqk + k]) * DecayPerDim<G>(s, tt, t, k);
  }
}

// 6a. dq, dk of this chunk's key tile from S_n (states slot n) and the
// gradient of the state after it (dstates slot n + 1); dA = scale (dO V^T)
// and the inter-chunk terms are accumulated over the value tiles. With a
// gate, r_t = q_t . dq_t - k_t . dk_t per key dim goes to dg (per-dim gate:
// then the chunk-local reverse cumsum of it, and the chunk's sums to
// `totals`) or to `terms` ([C, DK] per chunk; a scalar gate's r_t is summed
// over the key dims by ScalarGateLocalKernel in a fixed order, so dg is the
// same bit for bit from run to run: no float atomics). With kTC, dO V^T and
// the inter-chunk terms on tensor cores, and (no gate or scalar gate) dA K
// and dA^T Q too; dq and dk then never leave the registers of the warp that
// owns each tile (OwnedTiles): decays, the gate term and the stores run on
// the fragments' elements (FragRow/FragCol), without accumulators in shared
// memory (104 KB instead of 169 at D = 128: two blocks per SM on an H100).
template <typename in_t, GateKind G, bool kTC>
__global__ void __launch_bounds__(kThreads)
    ChunkGradQKKernel(LinearAttnBackwardParams bp, Dims d, SmemLayout l, const float* states,
                      const float* dstates, SplitStates<Stage<in_t, kTC>> split_states,
                      SplitStates<Stage<in_t, kTC>> split_dstates, float* totals, float* terms) {
  MURMUR_DYNAMIC_SMEM(smem);
  using stage_t = Stage<in_t, kTC>;
  constexpr bool kTcIntra = kTC && G != GateKind::kPerDim;
  Tiles<stage_t> s = Carve<stage_t>(smem, l);
  const ChunkPos c = ThisChunk(d, d.nK);
  const Span kc = TileOf(c.tile, d.TK, d.DK);
  const int kw = kc.width;
  const LinearAttnForwardParams& p = bp.fwd;
  LoadTile<kTC>(static_cast<const in_t*>(p.q), d, c, d.DK, kc, s.Q, s.ldqk);
  LoadTile<kTC>(static_cast<const in_t*>(p.k), d, c, d.DK, kc, s.K, s.ldqk);
  LoadGates(static_cast<const float*>(p.g), d, c, kc, s);
  const float* Sn = StateSlot(states, d, c.bh, c.n);
  const float* dS = StateSlot(dstates, d, c.bh, c.n + 1);
  const SplitStates<stage_t> split_s = SplitSlot(split_states, d, c.bh, c.n);
  const SplitStates<stage_t> split_ds = SplitSlot(split_dstates, d, c.bh, c.n + 1);
  PrefetchStateRows(split_s, d, kc.start, kw);  // this key tile's rows, every value tile
  PrefetchStateRows(split_ds, d, kc.start, kw);
  const int elems = c.L * kw;  // (t, k)
  // dq's and dk's inter-chunk terms: with kTC in the owning warp's
  // registers; else in Acc1 and Acc2, each element one thread's.
  [[maybe_unused]] FragAcc dq_acc[kMaxRowTiles], dk_acc[kMaxRowTiles];
  if constexpr (kTC) {
    MURMUR_UNROLL
    for (int r = 0; r < kMaxRowTiles; ++r) {
      FragZero(dq_acc[r]);
      FragZero(dk_acc[r]);
    }
    FillCoordTable(s.Coords);  // read after the first barrier below
  } else {
    for (int idx = threadIdx.x; idx < elems; idx += blockDim.x) {
      s.Acc1[idx / kw * s.ldacc + idx % kw] = s.Acc2[idx / kw * s.ldacc + idx % kw] = 0.f;
    }
  }
  for (int vt = 0; vt < d.nV; ++vt) {
    const Span vc = TileOf(vt, d.TV, d.DV);
    const int vw = vc.width;
    if (vt > 0) __syncthreads();  // the previous value tile is no longer read
    LoadTile<kTC>(static_cast<const in_t*>(bp.d_o), d, c, d.DV, vc, s.Y1, s.ldy);
    LoadTile<kTC>(static_cast<const in_t*>(p.v), d, c, d.DV, vc, s.Y2, s.ldy);
    __syncthreads();
    if constexpr (kTC) {  // dA (+)= dO V^T on the lower block triangle
      const int nb = Blocks16(c.L);
      for (int tile = Warp(); tile < nb * nb; tile += Warps()) {
        const int ti = tile / nb, si = tile % nb;
        if (si > ti) continue;
        FragAcc acc;
        if (vt == 0) {
          FragZero(acc);
        } else {
          FragLoad(acc, s.A + ti * 16 * s.lda + si * 16, s.lda);
        }
        for (int j0 = 0; j0 < vw; j0 += 16) {
          FragA<stage_t, Major::kRow> a;
          FragB<stage_t, Major::kCol> b;  // V^T
          FragLoad(a, s.Y1 + ti * 16 * s.ldy + j0, s.ldy);
          FragLoad(b, s.Y2 + si * 16 * s.ldy + j0, s.ldy);
          FragMma(acc, a, b);
        }
        FragStore(s.A + ti * 16 * s.lda + si * 16, acc, s.lda);
      }
      // += dO S_n^T, V dS^T
      TcStateProduct</*kTransposed=*/true>(s.Y1, vw, s.ldy, split_s, d, vc.start, kc.start, c.L,
                                           kw, dq_acc);
      TcStateProduct</*kTransposed=*/true>(s.Y2, vw, s.ldy, split_ds, d, vc.start, kc.start, c.L,
                                           kw, dk_acc);
    } else {
      for (int idx = threadIdx.x; idx < c.L * c.L; idx += blockDim.x) {
        const int t = idx / c.L, sr = idx % c.L;
        float acc = 0.f;
        if (sr <= t) {
          for (int j = 0; j < vw; ++j) acc += s.Y1[t * s.ldy + j] * s.Y2[sr * s.ldy + j];
          if (vt > 0) acc += s.A[t * s.lda + sr];
        }
        s.A[t * s.lda + sr] = acc;
      }
      CoreStateProduct</*kTransposed=*/true>(s.Y1, vw, s.ldy, Sn, d, vc.start, kc.start, c.L,
                                             s.Acc1, kw, s.ldacc);
      CoreStateProduct</*kTransposed=*/true>(s.Y2, vw, s.ldy, dS, d, vc.start, kc.start, c.L,
                                             s.Acc2, kw, s.ldacc);
    }
  }
  // With kTC: dA's tiles were a warp's, the passes below a thread's, and
  // dA16 (MaskToA16) goes over dO and v, which the state products just read.
  if constexpr (kTC) __syncthreads();
  // With kTC: this warp's tiles of dq and dk, and where their elements sit.
  const WarpTiles own = OwnedTiles(kTC ? kw / 16 : 1);
  const int nt = Blocks16(c.L);
  [[maybe_unused]] FragAcc coords;
  if constexpr (kTC) FragLoad(coords, s.Coords, 16);
  if constexpr (kTcIntra) {
    // dA16 = scale dA e^(b_t - b_sr), masked; the inter terms times their
    // row decays; then dq += dA16 K, dk += dA16^T Q, with dA16 as hi + lo
    // 16-bit parts (the gate gradient sums q dq - k dk, which cancel: a
    // 16-bit dA alone costs it about 1e-2 relative in bf16).
    MaskToA16<G, /*kSplit=*/true>(s, d, c.L, d.scale);
    ForEachOwnedElement(own, kw, c.L, coords, [&](int r, int e, int t, int k) {
      dq_acc[r].x[e] *= d.scale * DecayFromStart<G>(s, t, k);
      dk_acc[r].x[e] *= DecayToEnd<G>(s, t, k);
    });
    __syncthreads();  // dA16 complete
    MURMUR_UNROLL
    for (int r = 0; r < kMaxRowTiles; ++r) {
      const int ti = own.Row(r);
      if (own.col >= kw / 16 || ti >= nt) continue;
      for (int si = 0; si <= ti; ++si) {
        FragA<stage_t, Major::kRow> a;
        FragB<stage_t, Major::kRow> b;
        FragLoad(b, s.K + si * 16 * s.ldqk + own.col * 16, s.ldqk);
        FragLoad(a, s.A16 + ti * 16 * s.lda16 + si * 16, s.lda16);
        FragMma(dq_acc[r], a, b);
        FragLoad(a, s.A16lo + ti * 16 * s.lda16 + si * 16, s.lda16);
        FragMma(dq_acc[r], a, b);
      }
      for (int tt = ti; tt < nt; ++tt) {
        FragA<stage_t, Major::kCol> a;  // dA16^T
        FragB<stage_t, Major::kRow> b;
        FragLoad(b, s.Q + tt * 16 * s.ldqk + own.col * 16, s.ldqk);
        FragLoad(a, s.A16 + tt * 16 * s.lda16 + ti * 16, s.lda16);
        FragMma(dk_acc[r], a, b);
        FragLoad(a, s.A16lo + tt * 16 * s.lda16 + ti * 16, s.lda16);
        FragMma(dk_acc[r], a, b);
      }
    }
  } else {
    // dA = scale (dO V^T), masked; with a scalar gate times the decay
    // e^(b_t - b_sr), the factor dq and dk need for each (t, sr). Each entry
    // is its accumulating thread's (CUDA cores; after the barrier above
    // with kTC).
    for (int idx = threadIdx.x; idx < c.L * c.L; idx += blockDim.x) {
      const int t = idx / c.L, sr = idx % c.L;
      if (sr <= t) {
        const float decay = G == GateKind::kScalar ? DecayBetween<G>(s, t, sr, 0) : 1.f;
        s.A[t * s.lda + sr] *= d.scale * decay;
      }
    }
    __syncthreads();
  }
  const bool gate_grad = d.gate != GateKind::kNone && bp.dg != nullptr;
  float* dg = static_cast<float*>(bp.dg);
  float* chunk_terms = terms + (c.bh * d.N + c.n) * d.C * d.DK;
  in_t* dqo = static_cast<in_t*>(bp.dq);
  in_t* dko = static_cast<in_t*>(bp.dk);
  // dq, dk of row t, key column k of the tile to global memory, and r_t.
  auto emit = [&](int t, int k, float dq, float dk) {
    const int64_t at = Row(d, c.b, c.t0 + t, c.h, d.DK) + kc.start + k;
    dqo[at] = FromF<in_t>(dq);
    dko[at] = FromF<in_t>(dk);
    if (gate_grad) {
      const float r = ToF(s.Q[t * s.ldqk + k]) * dq - ToF(s.K[t * s.ldqk + k]) * dk;
      if constexpr (G == GateKind::kPerDim) {
        dg[at] = r;
      } else {
        chunk_terms[t * d.DK + kc.start + k] = r;
      }
    }
  };
  if constexpr (kTC) {
    ForEachOwnedElement(own, kw, c.L, coords, [&](int r, int e, int t, int k) {
      float dq = dq_acc[r].x[e], dk = dk_acc[r].x[e];
      if constexpr (!kTcIntra) DqDkElementwise<G>(s, d, c.L, t, k, dq, dk);
      emit(t, k, dq, dk);
    });
  } else {
    for (int idx = threadIdx.x; idx < elems; idx += blockDim.x) {
      const int t = idx / kw, k = idx % kw;
      float dq = s.Acc1[t * s.ldacc + k], dk = s.Acc2[t * s.ldacc + k];
      DqDkElementwise<G>(s, d, c.L, t, k, dq, dk);
      emit(t, k, dq, dk);
    }
  }
  if constexpr (G == GateKind::kPerDim) {
    if (!gate_grad) return;
    __syncthreads();  // r complete in dg
    for (int k = threadIdx.x; k < kw; k += blockDim.x) {
      float run = 0.f;
      for (int t = c.L - 1; t >= 0; --t) {
        float* out = dg + Row(d, c.b, c.t0 + t, c.h, d.DK) + kc.start + k;
        run += *out;
        *out = run;
      }
      totals[(c.bh * d.N + c.n) * d.DK + kc.start + k] = run;
    }
  }
}

// 6b. dv of this chunk's value tile: K e^(G-b) dS and scale A^T dO, with A
// and the inter-chunk term accumulated over the key tiles. With kTC, A (no
// gate, scalar gate) and A^T dO on tensor cores.
template <typename in_t, GateKind G, bool kTC>
__global__ void __launch_bounds__(kThreads)
    ChunkGradVKernel(LinearAttnBackwardParams bp, Dims d, SmemLayout l, const float* dstates,
                     SplitStates<Stage<in_t, kTC>> split_dstates) {
  MURMUR_DYNAMIC_SMEM(smem);
  using stage_t = Stage<in_t, kTC>;
  Tiles<stage_t> s = Carve<stage_t>(smem, l);
  const ChunkPos c = ThisChunk(d, d.nV);
  const Span vc = TileOf(c.tile, d.TV, d.DV);
  const int vw = vc.width;
  const LinearAttnForwardParams& p = bp.fwd;
  const float* dS = StateSlot(dstates, d, c.bh, c.n + 1);
  const SplitStates<stage_t> split = SplitSlot(split_dstates, d, c.bh, c.n + 1);
  PrefetchStateRows(split, d, 0, static_cast<int>(d.DK));  // every key tile's rows, read below
  const int elems = c.L * vw;  // (sr, j)
  [[maybe_unused]] FragAcc acc[kMaxRowTiles];  // the inter-chunk term (ZeroInterTerm)
  ZeroInterTerm<kTC>(acc, s, c.L, vw);
  // For TcAccumulateA's last key tile; read after the first barrier below.
  if constexpr (kTC && G != GateKind::kPerDim) FillCoordTable(s.Coords);
  for (int kt = 0; kt < d.nK; ++kt) {
    const Span kc = TileOf(kt, d.TK, d.DK);
    const int kw = kc.width;
    if (kt > 0) __syncthreads();  // the previous key tile is no longer read
    LoadTile<kTC>(static_cast<const in_t*>(p.q), d, c, d.DK, kc, s.Q, s.ldqk);
    LoadTile<kTC>(static_cast<const in_t*>(p.k), d, c, d.DK, kc, s.K, s.ldqk);
    LoadGates(static_cast<const float*>(p.g), d, c, kc, s);
    __syncthreads();
    IntraA<G, kTC>(s, c.L, kw, kt == 0, kt == d.nK - 1, d.scale);
    if constexpr (G != GateKind::kNone) {  // K is used decayed from here on
      __syncthreads();
      DecayRowsInPlace<G, /*kToEnd=*/true>(s, c.L, kw, s.K);
      __syncthreads();
    }
    // += (K e^(G-b)) dS
    if constexpr (kTC) {
      TcStateProduct</*kTransposed=*/false>(s.K, kw, s.ldqk, split, d, kc.start, vc.start, c.L,
                                            vw, acc);
    } else {
      CoreStateProduct</*kTransposed=*/false>(s.K, kw, s.ldqk, dS, d, kc.start, vc.start, c.L,
                                              s.Acc1, vw, s.ldacc);
    }
  }
  // Y1 is not read above: one barrier completes both A and the dO tile.
  LoadTile<kTC>(static_cast<const in_t*>(bp.d_o), d, c, d.DV, vc, s.Y1, s.ldy);
  __syncthreads();
  in_t* dvo = static_cast<in_t*>(bp.dv);
  if constexpr (kTC) {
    if constexpr (G == GateKind::kPerDim) {  // else the last IntraA wrote A16
      MaskToA16<G>(s, d, c.L, d.scale);
      __syncthreads();
    }
    // dv = acc + (scale A)^T dO per owned tile (rows sr), staged in Acc1.
    const WarpTiles own = OwnedTiles(vw / 16);
    const int nt = Blocks16(c.L);
    MURMUR_UNROLL
    for (int r = 0; r < kMaxRowTiles; ++r) {
      const int si = own.Row(r);
      if (own.col >= vw / 16 || si >= nt) continue;
      for (int ti = si; ti < nt; ++ti) {
        FragA<stage_t, Major::kCol> a;  // (scale A)^T
        FragB<stage_t, Major::kRow> b;
        FragLoad(a, s.A16 + ti * 16 * s.lda16 + si * 16, s.lda16);
        FragLoad(b, s.Y1 + ti * 16 * s.ldy + own.col * 16, s.ldy);
        FragMma(acc[r], a, b);
      }
      FragStore(s.Acc1 + si * 16 * s.ldacc + own.col * 16, acc[r], s.ldacc);
    }
    __syncthreads();
    StoreTile(s.Acc1, s.ldacc, d, c, d.DV, vc, dvo);
  } else {
    for (int idx = threadIdx.x; idx < elems; idx += blockDim.x) {
      const int sr = idx / vw, j = idx % vw;
      float intra = 0.f;
      for (int t = sr; t < c.L; ++t) intra += s.A[t * s.lda + sr] * s.Y1[t * s.ldy + j];
      dvo[Row(d, c.b, c.t0 + sr, c.h, d.DV) + vc.start + j] =
          FromF<in_t>(s.Acc1[sr * s.ldacc + j] + d.scale * intra);
    }
  }
}

// 6c. A scalar gate's r_t = sum over key dims of `terms`, in a fixed order;
// dg <- its chunk-local reverse cumsum, totals <- the chunk's sum.
__global__ void ScalarGateLocalKernel(LinearAttnBackwardParams bp, Dims d, const float* terms,
                                      float* totals) {
  __shared__ float r[kCudaMaxChunk];
  const ChunkPos c = ThisChunk(d, 1);
  const float* chunk_terms = terms + (c.bh * d.N + c.n) * d.C * d.DK;
  for (int t = threadIdx.x; t < c.L; t += blockDim.x) {
    float sum = 0.f;
    for (int k = 0; k < d.DK; ++k) sum += chunk_terms[t * d.DK + k];
    r[t] = sum;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  float* dg = static_cast<float*>(bp.dg);
  float run = 0.f;
  for (int t = c.L - 1; t >= 0; --t) {
    run += r[t];
    dg[Row(d, c.b, c.t0 + t, c.h, 1)] = run;
  }
  totals[c.bh * d.N + c.n] = run;
}

// 7a. Per batch-head and gate column: totals[n] <- <dS_T, S_T> + the sum of
// totals of the chunks after n (exclusive reverse scan over chunks). S_T:
// final_states [BH][DK * DV].
__global__ void GateOffsetScanKernel(Dims d, const float* dht, const float* final_states,
                                     float* totals) {
  // <dS_T, S_T> per key dim, then summed over them for a scalar gate, each
  // in a fixed order (no float atomics: dg is reproducible).
  __shared__ float final_term[kCudaMaxHeadDim];
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  const int64_t bh = blockIdx.x;
  const float* ST = final_states + bh * d.DK * d.DV;
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
  const ChunkPos c = ThisChunk(d, 1);
  const int cols = d.gate == GateKind::kPerDim ? static_cast<int>(d.DK) : 1;
  float* dg = static_cast<float*>(bp.dg);
  for (int idx = threadIdx.x; idx < c.L * cols; idx += blockDim.x) {
    const int t = idx / cols, k = idx % cols;
    dg[Row(d, c.b, c.t0 + t, c.h, cols) + k] += totals[(c.bh * d.N + c.n) * cols + k];
  }
}

// The largest dynamic shared memory a block of this device may opt in to.
// MURMUR_CUDA_MAX_SMEM_PER_BLOCK (bytes) lowers it, so one GPU runs the
// launch plan of a smaller one (gpu_check.py does, for every target arch).
size_t DeviceSmemPerBlockOptin() {
  int device = 0, limit = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  Check(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "reading the shared-memory limit");
  size_t bytes = static_cast<size_t>(limit);
  if (const char* cap = std::getenv("MURMUR_CUDA_MAX_SMEM_PER_BLOCK")) {
    const unsigned long long asked = std::strtoull(cap, nullptr, 10);
    if (asked > 0 && asked < bytes) bytes = static_cast<size_t>(asked);
  }
  return bytes;
}

// The call's sizes and the launch plan for this device (launch_plan.h):
// the chunk length and tile widths its shared memory allows. Throws
// std::invalid_argument, with what was needed and allowed, when none fits.
// The device's compute capability (major * 10 + minor).
int DeviceComputeCapability() {
  int device = 0, major = 0, minor = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  Check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "reading the compute capability");
  Check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device),
        "reading the compute capability");
  return major * 10 + minor;
}

// The device's number of SMs.
int DeviceMultiProcessorCount() {
  int device = 0, sms = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  Check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
        "reading the SM count");
  return sms;
}

// MURMUR_CUDA_TENSOR_CORES=0 keeps fp16/bf16 inputs on the CUDA-core path.
bool TensorCoresAllowed() {
  const char* flag = std::getenv("MURMUR_CUDA_TENSOR_CORES");
  return flag == nullptr || std::string(flag) != "0";
}

// MURMUR_CUDA_FUSED_FORWARD=0 keeps the forward chunk-parallel (update walk
// + ChunkOutputKernel) where the fused forward would run.
bool FusedForwardAllowed() {
  const char* flag = std::getenv("MURMUR_CUDA_FUSED_FORWARD");
  return flag == nullptr || std::string(flag) != "0";
}

Dims MakeDims(const LinearAttnForwardParams& p, bool backward) {
  if (p.dtype == DType::kFloat64) {
    throw std::invalid_argument("murmur CUDA kernels take float32, bfloat16 or float16 inputs");
  }
  ProblemShape shape{p.DK, p.DV, p.gate, backward};
  shape.dtype = p.dtype;
  shape.compute_capability = DeviceComputeCapability();
  shape.tensor_cores = TensorCoresAllowed();
  shape.fused_forward = FusedForwardAllowed();
  const size_t smem_limit = DeviceSmemPerBlockOptin();
  const PlanOutcome plan = PlanLaunch(shape, smem_limit);
  if (!plan.ok) throw std::invalid_argument(plan.error);
  Dims d;
  d.T = p.T;
  d.H = p.H;
  d.DK = p.DK;
  d.DV = p.DV;
  d.C = plan.plan.tiles.chunk;
  d.N = (p.T + d.C - 1) / d.C;
  d.gate = p.gate;
  d.scale = p.scale;
  d.TK = plan.plan.tiles.key_tile;
  d.TV = plan.plan.tiles.value_tile;
  d.nK = static_cast<int>((d.DK + d.TK - 1) / d.TK);
  d.nV = static_cast<int>((d.DV + d.TV - 1) / d.TV);
  d.tc = plan.plan.tiles.tensor_cores;
  d.scaled_split = d.tc && p.dtype == DType::kFloat16;
  d.fused = false;
  const int fused_tile = backward ? 0
                                  : FusedForwardValueTile(shape, smem_limit, p.B * p.H,
                                                          DeviceMultiProcessorCount());
  if (fused_tile > 0) {
    d.fused = true;
    d.tc = true;
    d.C = kCudaMaxChunk;
    d.N = (p.T + d.C - 1) / d.C;
    d.TK = static_cast<int>(d.DK);
    d.nK = 1;
    d.TV = fused_tile;
    d.nV = static_cast<int>((d.DV + d.TV - 1) / d.TV);
  }
  return d;
}

TileShape TilesOf(const Dims& d) {
  const int gate_width = d.gate == GateKind::kPerDim ? d.TK : d.gate == GateKind::kScalar ? 1 : 0;
  return {d.C, d.TK, d.TV, gate_width, d.tc, /*one_key_tile=*/d.nK == 1};
}

// A kernel's shared-memory layout, with the kernel opted in to its size.
template <typename Kernel>
SmemLayout OptIn(Kernel kernel, ChunkKernel which, const Dims& d) {
  const SmemLayout layout = LayoutOf(which, TilesOf(d));
  Check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(layout.Bytes())),
        "raising the shared-memory limit");
  return layout;
}

// Workspace floats, per batch-head: the forward's states [N + 1][DK * DV],
// fp32 on CUDA cores, or their 16-bit hi then lo copies on tensor cores (as
// many bytes; first, so every fragment load stays 32-byte aligned), and on
// CUDA cores the chunk totals [N][DK] the scans read. The backward adds the
// state gradients (as the states), the final state S_T [DK * DV] for the
// gate gradient, the gate-gradient chunk sums [N][cols] and, for a scalar
// gate, the terms of r_t [N][C][DK]. Last, for fp16 on tensor cores, the
// scales of the split states (SplitStates), then of the state gradients.
int64_t StateFloats(const Dims& d, int64_t BH) { return BH * (d.N + 1) * d.DK * d.DV; }
int64_t GamFloats(const Dims& d, int64_t BH) { return d.tc ? 0 : BH * d.N * d.DK; }
int64_t ScaleFloats(const Dims& d, int64_t BH) {
  return d.scaled_split ? BH * (d.N + 1) * (d.DK / 16) * (d.DV / 16) : 0;
}
int64_t ForwardWorkspaceFloats(const Dims& d, int64_t BH) {
  if (d.fused) return 0;  // its states stay in registers and shared memory
  return StateFloats(d, BH) + GamFloats(d, BH) + ScaleFloats(d, BH);
}
int64_t BackwardWorkspaceFloats(const Dims& d, int64_t BH) {
  const int64_t cols = d.gate == GateKind::kPerDim ? d.DK : 1;
  const int64_t terms = d.gate == GateKind::kScalar ? d.N * d.C * d.DK : 0;
  return 2 * StateFloats(d, BH) + GamFloats(d, BH) +
         BH * (d.DK * d.DV + d.N * cols + terms) + 2 * ScaleFloats(d, BH);
}

// A state array of `floats` floats at `at` in the workspace: the fp32 slots
// (CUDA cores: split_t is float, hi and lo null), or the same bytes as the
// 16-bit hi copy of every slot followed by the lo copy (tensor cores; the
// kernels then never read `fp32`), with the split's scales at `scales`
// (fp16 only; ScaleFloats of them).
template <typename split_t>
struct StateArray {
  float* fp32;
  split_t* hi;
  split_t* lo;
  float* scales;
  SplitStates<split_t> Split() const { return {hi, lo, scales}; }
};
template <typename split_t>
StateArray<split_t> StateArrayAt(float* at, int64_t floats, float* scales) {
  if constexpr (std::is_same_v<split_t, float>) {
    return {at, nullptr, nullptr, nullptr};
  } else {
    auto* hi = reinterpret_cast<split_t*>(at);
    return {at, hi, hi + floats, kScaledSplit<split_t> ? scales : nullptr};
  }
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

// The walk kernels' tiles: the plan's, at most kCudaWalkTile wide, so each
// batch-head is (D / 64)^2 or more blocks walking at once (128 x 128 tiles
// would walk one block per batch-head and leave most SMs idle at B·H = 64).
Dims Walking(const Dims& d) {
  Dims w = d;
  w.TK = d.TK < kCudaWalkTile ? d.TK : kCudaWalkTile;
  w.TV = d.TV < kCudaWalkTile ? d.TV : kCudaWalkTile;
  w.nK = static_cast<int>((d.DK + w.TK - 1) / w.TK);
  w.nV = static_cast<int>((d.DV + w.TV - 1) / w.TV);
  return w;
}

// A state walk (tensor cores) over every batch-head: forward (x = k, y = v,
// `first` h0, `last` S_T) or reverse (x = q, y = dO, `first` dS_T, `last`
// dh0), every chunk's state split into `out`.
template <typename in_t, GateKind G, bool kReverse>
void LaunchStateWalk(const Dims& d, int64_t BH, const void* x, const void* y, const void* g,
                     const float* first, const StateArray<in_t>& out, float* last,
                     cudaStream_t stream) {
  const Dims w = Walking(d);
  const auto walk = ChunkStateWalkKernel<in_t, G, kReverse>;
  const SmemLayout layout = OptIn(walk, kReverse ? ChunkKernel::kDState : ChunkKernel::kUpdate, w);
  Launch(walk, BH * w.nK * w.nV, layout.Bytes(), stream, w, layout, static_cast<const in_t*>(x),
         static_cast<const in_t*>(y), static_cast<const float*>(g), first, out.hi, out.lo,
         out.scales, last);
}

// Every chunk's state into `states`, and the final state into
// `final_state` (may be null); `gam` is the CUDA-core scans' scratch.
template <typename in_t, GateKind G, bool kTC>
void ChunkStates(const LinearAttnForwardParams& p, const Dims& d,
                 const StateArray<Stage<in_t, kTC>>& states, float* gam, float* final_state,
                 cudaStream_t stream) {
  const int64_t BH = p.B * p.H, chunks = BH * d.N;
  const auto* h0 = static_cast<const float*>(p.initial_state);
  if constexpr (kTC) {
    LaunchStateWalk<in_t, G, /*kReverse=*/false>(d, BH, p.k, p.v, p.g, h0, states, final_state,
                                                 stream);
  } else {
    const SmemLayout update = OptIn(ChunkUpdateKernel<in_t, G>, ChunkKernel::kUpdate, d);
    if (chunks > 0) {
      Launch(ChunkUpdateKernel<in_t, G>, chunks * d.nK * d.nV, update.Bytes(), stream, p, d,
             update, states.fp32, gam);
    }
    Launch(ScanKernel</*kReverse=*/false>, ScanBlocks(d, BH), 0, stream, d, h0, states.fp32,
           static_cast<const float*>(gam), final_state);
  }
}

template <typename in_t, GateKind G, bool kTC>
void ForwardGated(const LinearAttnForwardParams& p, const Dims& d, cudaStream_t stream) {
  const int64_t BH = p.B * p.H, chunks = BH * d.N;
  if constexpr (kTC && G != GateKind::kPerDim) {
    if (d.fused) {
      const auto fused = FusedForwardKernel<in_t, G>;
      const SmemLayout layout = OptIn(fused, ChunkKernel::kFusedForward, d);
      Launch(fused, BH * d.nV, layout.Bytes(), stream, p, d, layout);
      Check(cudaGetLastError(), "forward launch");
      return;
    }
  }
  const SmemLayout output = OptIn(ChunkOutputKernel<in_t, G, kTC>, ChunkKernel::kOutput, d);
  using split_t = Stage<in_t, kTC>;
  Workspace ws(p.workspace, ForwardWorkspaceFloats(d, BH), stream);
  const int64_t state_floats = StateFloats(d, BH);
  float* gam = ws.data() + state_floats;
  float* scales = gam + GamFloats(d, BH);
  const StateArray<split_t> states = StateArrayAt<split_t>(ws.data(), state_floats, scales);
  ChunkStates<in_t, G, kTC>(p, d, states, gam, static_cast<float*>(p.final_state), stream);
  if (chunks > 0) {
    Launch(ChunkOutputKernel<in_t, G, kTC>, chunks * d.nV, output.Bytes(), stream, p, d, output,
           static_cast<const float*>(states.fp32), states.Split());
  }
  Check(cudaGetLastError(), "forward launch");
}

template <typename in_t, GateKind G, bool kTC>
void BackwardGated(const LinearAttnBackwardParams& bp, const Dims& d, cudaStream_t stream) {
  const LinearAttnForwardParams& p = bp.fwd;
  const int64_t BH = p.B * p.H, chunks = BH * d.N;
  const int64_t state_floats = StateFloats(d, BH);
  using split_t = Stage<in_t, kTC>;
  const SmemLayout grad_qk = OptIn(ChunkGradQKKernel<in_t, G, kTC>, ChunkKernel::kGradQK, d);
  const SmemLayout grad_v = OptIn(ChunkGradVKernel<in_t, G, kTC>, ChunkKernel::kGradV, d);
  Workspace ws(bp.workspace, BackwardWorkspaceFloats(d, BH), stream);
  // Laid out as BackwardWorkspaceFloats says.
  float* final_states = ws.data() + 2 * state_floats;
  float* gam = final_states + BH * d.DK * d.DV;
  float* totals = gam + GamFloats(d, BH);
  float* terms = totals + BH * d.N * (d.gate == GateKind::kPerDim ? d.DK : 1);
  float* scales = terms + (d.gate == GateKind::kScalar ? BH * d.N * d.C * d.DK : 0);
  const auto states = StateArrayAt<split_t>(ws.data(), state_floats, scales);
  const auto dstates = StateArrayAt<split_t>(ws.data() + state_floats, state_floats,
                                             scales + ScaleFloats(d, BH));
  const auto* dht = static_cast<const float*>(bp.d_final_state);
  // The chunk-start states, as in the forward, and S_T.
  ChunkStates<in_t, G, kTC>(p, d, states, gam, final_states, stream);
  // Gradients of every chunk-start state, and of h0.
  auto* dh0 = static_cast<float*>(bp.d_initial_state);
  if constexpr (kTC) {
    LaunchStateWalk<in_t, G, /*kReverse=*/true>(d, BH, p.q, bp.d_o, p.g, dht, dstates, dh0, stream);
  } else {
    const SmemLayout dstate = OptIn(ChunkDStateKernel<in_t, G>, ChunkKernel::kDState, d);
    if (chunks > 0) {
      Launch(ChunkDStateKernel<in_t, G>, chunks * d.nK * d.nV, dstate.Bytes(), stream, bp, d,
             dstate, dstates.fp32);
    }
    Launch(ScanKernel</*kReverse=*/true>, ScanBlocks(d, BH), 0, stream, d, dht, dstates.fp32,
           static_cast<const float*>(gam), dh0);
  }
  if (chunks > 0) {
    Launch(ChunkGradQKKernel<in_t, G, kTC>, chunks * d.nK, grad_qk.Bytes(), stream, bp, d, grad_qk,
           static_cast<const float*>(states.fp32), static_cast<const float*>(dstates.fp32),
           states.Split(), dstates.Split(), totals, terms);
    Launch(ChunkGradVKernel<in_t, G, kTC>, chunks * d.nV, grad_v.Bytes(), stream, bp, d, grad_v,
           static_cast<const float*>(dstates.fp32), dstates.Split());
    if (d.gate != GateKind::kNone && bp.dg != nullptr) {
      if (d.gate == GateKind::kScalar) {
        Launch(ScalarGateLocalKernel, chunks, 0, stream, bp, d, static_cast<const float*>(terms),
               totals);
      }
      Launch(GateOffsetScanKernel, BH, 0, stream, d, dht,
             static_cast<const float*>(final_states), totals);
      Launch(GateGradFinishKernel, chunks, 0, stream, bp, d, static_cast<const float*>(totals));
    }
  }
  Check(cudaGetLastError(), "backward launch");
}

// The gate kind is a template argument of the chunk kernels: plain
// attention then carries no exp in its inner loops.
// So is the tensor-core path (only for 16-bit inputs).
template <typename in_t, bool kTC>
void ForwardPath(const LinearAttnForwardParams& p, const Dims& d, cudaStream_t stream) {
  switch (d.gate) {
    case GateKind::kNone: return ForwardGated<in_t, GateKind::kNone, kTC>(p, d, stream);
    case GateKind::kScalar: return ForwardGated<in_t, GateKind::kScalar, kTC>(p, d, stream);
    case GateKind::kPerDim: return ForwardGated<in_t, GateKind::kPerDim, kTC>(p, d, stream);
  }
}

template <typename in_t, bool kTC>
void BackwardPath(const LinearAttnBackwardParams& bp, const Dims& d, cudaStream_t stream) {
  switch (d.gate) {
    case GateKind::kNone: return BackwardGated<in_t, GateKind::kNone, kTC>(bp, d, stream);
    case GateKind::kScalar: return BackwardGated<in_t, GateKind::kScalar, kTC>(bp, d, stream);
    case GateKind::kPerDim: return BackwardGated<in_t, GateKind::kPerDim, kTC>(bp, d, stream);
  }
}

template <typename in_t>
void Forward(const LinearAttnForwardParams& p, const Dims& d, cudaStream_t stream) {
  if constexpr (!std::is_same_v<in_t, float>) {
    if (d.tc) return ForwardPath<in_t, true>(p, d, stream);
  }
  ForwardPath<in_t, false>(p, d, stream);
}

template <typename in_t>
void Backward(const LinearAttnBackwardParams& bp, const Dims& d, cudaStream_t stream) {
  if constexpr (!std::is_same_v<in_t, float>) {
    if (d.tc) return BackwardPath<in_t, true>(bp, d, stream);
  }
  BackwardPath<in_t, false>(bp, d, stream);
}

}  // namespace

size_t LinearAttnForwardCudaWorkspaceBytes(const LinearAttnForwardParams& p) {
  return sizeof(float) *
         static_cast<size_t>(ForwardWorkspaceFloats(MakeDims(p, /*backward=*/false), p.B * p.H));
}

size_t LinearAttnBackwardCudaWorkspaceBytes(const LinearAttnBackwardParams& bp) {
  return sizeof(float) * static_cast<size_t>(BackwardWorkspaceFloats(
                             MakeDims(bp.fwd, /*backward=*/true), bp.fwd.B * bp.fwd.H));
}

void LinearAttnForwardCuda(const LinearAttnForwardParams& p, void* stream_ptr) {
  if (p.B * p.H == 0) return;
  const Dims d = MakeDims(p, /*backward=*/false);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  if (p.dtype == DType::kBFloat16) {
    Forward<__nv_bfloat16>(p, d, stream);
  } else if (p.dtype == DType::kFloat16) {
    Forward<__half>(p, d, stream);
  } else {
    Forward<float>(p, d, stream);
  }
}

void LinearAttnBackwardCuda(const LinearAttnBackwardParams& bp, void* stream_ptr) {
  if (bp.fwd.B * bp.fwd.H == 0) return;
  const Dims d = MakeDims(bp.fwd, /*backward=*/true);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  if (bp.fwd.dtype == DType::kBFloat16) {
    Backward<__nv_bfloat16>(bp, d, stream);
  } else if (bp.fwd.dtype == DType::kFloat16) {
    Backward<__half>(bp, d, stream);
  } else {
    Backward<float>(bp, d, stream);
  }
}

}  // namespace murmur::kernels
