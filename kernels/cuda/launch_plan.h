// Launch configuration of the CUDA chunk kernels (linear_attn_cuda.cu): the
// chunk length C and the widths of the key and value tiles a block stages in
// shared memory, picked so that every chunk kernel of a call fits the
// device's per-block shared-memory limit (48 KB without opt-in; 64 KB on a
// T4, 99 KB on RTX 30/40 and L4, 163 KB on A100 and Jetson Orin, 227 KB on
// H100/H200). Pure host code, no CUDA calls: the caller reads the limit off
// the device (cudaDeviceGetAttribute) and passes it in, so the planner is
// unit-tested on any machine. Compiled as C++17 too (nvcc includes it).
// Threading: stateless functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/linear_attn_params.h"

namespace murmur::kernels {

// Threads per block of every chunk kernel, and the largest chunk and head
// dim they take.
constexpr int kCudaThreads = 256;
constexpr int kCudaMaxChunk = 64;
constexpr int kCudaMaxHeadDim = 128;
// The widest state tile a state walk (tensor cores) holds: a batch-head is
// (D / 64)^2 blocks walking at once, and its update and dstate layouts are
// planned at the plan's tiles capped at this.
constexpr int kCudaWalkTile = 64;

// The chunk kernels that stage tiles in shared memory.
enum class ChunkKernel : int {
  kUpdate = 0,  // (K decayed)^T V per key tile x value tile
  kOutput,      // O per value tile, looping over key tiles
  kDState,      // (Q decayed)^T dO per key tile x value tile
  kGradQK,      // dq, dk per key tile, looping over value tiles
  kGradV,       // dv per value tile, looping over key tiles
  kFusedForward,  // the whole forward per value tile, walking the chunks
  kCount
};
const char* ChunkKernelName(ChunkKernel kernel);

// C rows of a chunk; key tiles of key_tile columns, value tiles of
// value_tile columns (the last tile of each may be narrower); gate_width
// columns of cumulative log gates per key tile (0: no gate, 1: scalar gate,
// key_tile: per-key-dim gate). tensor_cores: the 16x16x16 tensor-core path
// (fp16/bf16 inputs, head dims multiples of 16), whose q, k, y tiles and
// the masked intra-chunk matrix (a16) are staged as 16-bit values.
// one_key_tile: the key tile is the whole key dim, so output and dv on
// tensor cores (no per-dim gate) finish A within one key tile and write it
// straight to a16: no fp32 a.
struct TileShape {
  int chunk = kCudaMaxChunk;
  int key_tile = 0;
  int value_tile = 0;
  int gate_width = 0;
  bool tensor_cores = false;
  bool one_key_tile = false;
};

// Row pitch, in elements, of a staged array whose rows hold `width`
// elements of `element_bytes` each: the row rounded up to 16 bytes and, when
// that is an even number of 16-byte units, 16 bytes more. Eight consecutive
// rows then start in eight different 16-byte groups of the 32 banks, so a
// fragment load or store (8 rows of 16 bytes per shared-memory wavefront)
// is free of bank conflicts; unpadded, the 256-byte rows of a 128-wide
// 16-bit tile all start in the same four banks (8-way conflicts). The pitch
// stays a multiple of 8 16-bit or 4 fp32 elements and 16 rows of it a
// multiple of 32 bytes, as fragment loads need.
constexpr int RowPitch(int width, int element_bytes) {
  const int units = (width * element_bytes + 15) / 16;
  return (units % 2 == 0 ? units + 1 : units) * 16 / element_bytes;
}

// Where each staged array starts in a kernel's dynamic shared memory, in
// bytes from the base (each 32-byte aligned, as tensor-core fragment loads
// need), and the row pitch of each 2-D array in elements (RowPitch on the
// tensor-core path, the width on the CUDA-core one; every array has `chunk`
// rows); -1 where the kernel has no such array.
//   q, k: [chunk, key_tile]; b: [chunk, gate_width]; G: [gate_width];
//   a: [chunk, chunk]; y1, y2: [chunk, value_tile]; acc1, acc2: the
//   outputs summed over the other head dim's tiles, [chunk, value_tile]
//   (output, grad_v) or [chunk, key_tile] (grad_qk: dq and dk); on tensor
//   cores output's and grad_v's acc1 only stages the finished results for
//   the stores and starts at 0, over q, k, b, G and a (dead by then).
//   a16: [chunk, chunk] 16-bit copy of the masked, scaled a (tensor cores).
//   xlo: [chunk, key_tile] 16-bit low part of the decayed key tile (update
//   with a gate, dstate; tensor cores): decayed = k (or q) + xlo, so the
//   state products do not round the decay (or dstate's scale) to 16 bits.
//   a16lo: [chunk, chunk] 16-bit low part of dA (grad_qk, tensor cores):
//   dq and dk take dA as a16 + a16lo, to keep the gate gradient's
//   cancelling sums accurate. grad_qk's a16 and a16lo start at y1, over y1
//   and y2 (dead by then); with a per-dim gate it has neither (its dA
//   stays fp32).
//   coords: [16, 16] fp32, where an accumulator fragment's elements sit
//   (tensor cores: grad_qk keeps dq and dk in fragments, no acc1/acc2;
//   output and dv, without a per-dim gate, write a16 from A's fragments;
//   the update and dstate layouts serve the state walk, whose state does).
//   The state walks (update and dstate on tensor cores) double-buffer the
//   raw tiles of a chunk, the next chunk's copies landing while the current
//   one computes: q and k are the two key-tile buffers, y1 and y2 the two
//   value-tile buffers, b and b2 the two gate buffers ([chunk, gate_width]).
//   The fused forward (tensor cores; key_tile the whole key dim) double-
//   buffers a chunk's raw tiles, q/q2, k/k2, y1/y2 and b/b2, holds the
//   masked A in a16, the decayed key tile's low part in xlo (scalar gate),
//   the chunk's state as 16-bit hi + lo in shi and slo ([key_tile,
//   value_tile], rows ld_s apart) with fp16's per-fragment scales in
//   sscale ([key_tile / 16, value_tile / 16]), stages the output in acc1,
//   and keeps its state and A in fragments (coords).
// q, k, y1, y2 hold fp32 on the CUDA-core path, 16-bit on the tensor-core one.
// Pitches: ld_qk of q, k, xlo; ld_y of y1, y2; ld_a of a; ld_a16 of a16,
// a16lo; ld_acc of acc1, acc2; b's rows are gate_width apart (not a
// fragment operand).
struct SmemLayout {
  int q = -1, k = -1, b = -1, G = -1, a = -1, y1 = -1, y2 = -1, acc1 = -1, acc2 = -1, a16 = -1;
  int xlo = -1, a16lo = -1, coords = -1, b2 = -1;
  int q2 = -1, k2 = -1, shi = -1, slo = -1, sscale = -1;  // the fused forward's
  int ld_qk = 0, ld_y = 0, ld_a = 0, ld_a16 = 0, ld_acc = 0, ld_s = 0;
  int bytes = 0;
  size_t Bytes() const { return static_cast<size_t>(bytes); }
};
SmemLayout LayoutOf(ChunkKernel kernel, const TileShape& tiles);

// What a call computes: head dims, gate kind, and whether it is the
// backward (five chunk kernels) or the forward (update and output).
// dtype and compute_capability pick the arithmetic: tensor cores for fp16
// on sm_75+ and bf16 on sm_80+ when both head dims are multiples of 16 and
// `tensor_cores` allows them (MURMUR_CUDA_TENSOR_CORES=0 turns them off);
// CUDA cores in fp32 otherwise (fp32 inputs always).
struct ProblemShape {
  int64_t DK = 0, DV = 0;
  GateKind gate = GateKind::kNone;
  bool backward = false;
  DType dtype = DType::kFloat32;
  int compute_capability = 90;
  bool tensor_cores = true;
  bool fused_forward = true;
};

// Whether a call of this shape runs on tensor cores (see ProblemShape).
bool UsesTensorCores(const ProblemShape& shape);

struct LaunchPlan {
  TileShape tiles;
  size_t smem_bytes = 0;  // the most any of the call's chunk kernels asks for
  bool needs_opt_in = false;  // over the 48 KB a block gets by default
};

// Either a plan or, when no configuration fits (or the shape is outside
// what the kernels take), an error that says what was needed and allowed.
struct PlanOutcome {
  bool ok = false;
  LaunchPlan plan;
  std::string error;
};

// The largest chunk (64, then 32, 16) and, for it, the widest tiles (the
// whole head dim, then 64, 32, 16) whose kernels all fit, with the
// arithmetic UsesTensorCores picks, in
// `smem_per_block_optin` bytes (cudaDevAttrMaxSharedMemoryPerBlockOptin).
PlanOutcome PlanLaunch(const ProblemShape& shape, size_t smem_per_block_optin);

// The fused forward (linear_attn_cuda.cu: one pass over the chunks per
// batch-head and value tile, the states in registers, none through device
// memory) applies to a forward on tensor cores without a per-dim gate,
// unless `fused_forward` is off (MURMUR_CUDA_FUSED_FORWARD=0). It runs at
// C = 64 with the whole key dim staged; this is the widest value tile (64,
// 32, 16, at most DV) whose layout fits `smem_per_block_optin`, or 0 where
// it does not apply or nothing fits (the chunk-parallel forward then runs).
// Its blocks walk the chunks one after another, so a call with fewer
// blocks than SMs leaves SMs idle for all of it: given the call's
// batch-heads and the device's SM count, the tile halves (down to 16) while
// twice the blocks still fit on the SMs, one each (D = 64 at B·H = 64 on
// an H100: 32-wide, 128 blocks, rather than 64 blocks).
int FusedForwardValueTile(const ProblemShape& shape, size_t smem_per_block_optin,
                          int64_t batch_heads = 0, int sm_count = 0);

// 48 KB: what a block may use without cudaFuncSetAttribute.
constexpr size_t kDefaultSmemPerBlock = 48 * 1024;

}  // namespace murmur::kernels
