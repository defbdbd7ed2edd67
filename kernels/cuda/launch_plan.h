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

// The chunk kernels that stage tiles in shared memory.
enum class ChunkKernel : int {
  kUpdate = 0,  // (K decayed)^T V per key tile x value tile
  kOutput,      // O per value tile, looping over key tiles
  kDState,      // (Q decayed)^T dO per key tile x value tile
  kGradQK,      // dq, dk per key tile, looping over value tiles
  kGradV,       // dv per value tile, looping over key tiles
  kCount
};
const char* ChunkKernelName(ChunkKernel kernel);

// C rows of a chunk; key tiles of key_tile columns, value tiles of
// value_tile columns (the last tile of each may be narrower); gate_width
// columns of cumulative log gates per key tile (0: no gate, 1: scalar gate,
// key_tile: per-key-dim gate).
struct TileShape {
  int chunk = kCudaMaxChunk;
  int key_tile = 0;
  int value_tile = 0;
  int gate_width = 0;
};

// Where each staged array starts in a kernel's dynamic shared memory, in
// floats from the base; -1 where the kernel has no such array.
//   q, k: [chunk, key_tile]; b: [chunk, gate_width]; G: [gate_width];
//   a: [chunk, chunk]; y1, y2: [chunk, value_tile]; acc1, acc2: the
//   outputs summed over the other head dim's tiles, [chunk, value_tile]
//   (output, grad_v) or [chunk, key_tile] (grad_qk: dq and dk)
struct SmemLayout {
  int q = -1, k = -1, b = -1, G = -1, a = -1, y1 = -1, y2 = -1, acc1 = -1, acc2 = -1;
  int floats = 0;
  size_t Bytes() const { return sizeof(float) * static_cast<size_t>(floats); }
};
SmemLayout LayoutOf(ChunkKernel kernel, const TileShape& tiles);

// What a call computes: head dims, gate kind, and whether it is the
// backward (five chunk kernels) or the forward (update and output).
struct ProblemShape {
  int64_t DK = 0, DV = 0;
  GateKind gate = GateKind::kNone;
  bool backward = false;
};

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
// whole head dim, then 64, 32, 16) whose kernels all fit in
// `smem_per_block_optin` bytes (cudaDevAttrMaxSharedMemoryPerBlockOptin).
PlanOutcome PlanLaunch(const ProblemShape& shape, size_t smem_per_block_optin);

// 48 KB: what a block may use without cudaFuncSetAttribute.
constexpr size_t kDefaultSmemPerBlock = 48 * 1024;

}  // namespace murmur::kernels
