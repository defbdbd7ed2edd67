// The CUDA kernels of linear_attn_cuda.cu compiled for the CPU emulation in
// cuda_emulation.h: same code, same params, run by blocks of std::threads.
// For tests on machines without a GPU; far too slow for anything else.
// Threading: launches are serialized inside; safe to call from any thread.
#pragma once

#include <cstddef>

#include "kernels/linear_attn_params.h"

namespace murmur::kernels {

// Pointers in the params are host memory. Throws std::runtime_error where
// the device build would report a CUDA error, std::invalid_argument for
// shapes the CUDA kernels do not support.
void LinearAttnForwardCudaEmulated(const LinearAttnForwardParams& p);
void LinearAttnBackwardCudaEmulated(const LinearAttnBackwardParams& p);

// Scratch the kernels need when the caller provides it (params.workspace).
size_t LinearAttnForwardCudaEmulatedWorkspaceBytes(const LinearAttnForwardParams& p);
size_t LinearAttnBackwardCudaEmulatedWorkspaceBytes(const LinearAttnBackwardParams& p);

// The emulated GPU's per-block shared-memory ceiling (default 227 KB, an
// H100/H200); lower it to model an A100 (163 KB) or an RTX/L4 (99 KB).
void SetEmulatedMaxSharedMemoryPerBlock(size_t bytes);

// The emulated GPU's compute capability (default 90); it decides, as on a
// device, whether fp16 (sm_75+) and bf16 (sm_80+) run on tensor cores.
void SetEmulatedComputeCapability(int compute_capability);

// The emulated GPU's number of SMs (default 132, an H100/H200), which the
// fused forward's choice of value tile reads.
void SetEmulatedMultiProcessorCount(int sms);

// Background copies (async_copy.h) land at their issue (true) or, the
// default, at their wait: the two extremes a device allows.
void SetEmulatedCopiesLandAtIssue(bool at_issue);

}  // namespace murmur::kernels
