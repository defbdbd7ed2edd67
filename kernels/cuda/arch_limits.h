// Per-architecture limits of the GPUs murmur's clients run on (CUDA
// Programming Guide, "Technical Specifications per Compute Capability"):
// what a block may use by default and with opt-in, per-SM resources, and a
// typical SM count. At run time the CUDA kernels read the actual device's
// values (cudaDeviceGetAttribute); this table is what the CPU emulation of
// CUDA models, so every architecture's launch configuration runs in CI.
// Threading: immutable data, readable from any thread.
#pragma once

#include <cstddef>
#include <span>

namespace murmur::kernels {

struct ArchLimits {
  int compute_capability;       // 75 for sm_75
  const char* gpus;             // examples
  size_t smem_per_block;        // without opt-in (48 KB on all of them)
  size_t smem_per_block_optin;  // cudaDevAttrMaxSharedMemoryPerBlockOptin
  size_t smem_per_sm;
  int regs_per_sm;              // 32-bit registers
  int max_regs_per_thread;
  int max_threads_per_sm;
  int example_sm_count;         // of the first GPU named
};

// sm_75, 80, 86, 87, 89, 90: the architectures the default build targets.
std::span<const ArchLimits> KnownArchs();

// The entry for a compute capability, or null.
const ArchLimits* FindArch(int compute_capability);

}  // namespace murmur::kernels
