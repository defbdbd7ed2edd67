// Builds linear_attn_cuda.cu as C++ against the CPU emulation of CUDA, under
// its own entry-point names so it can sit beside the real CUDA build.
#include "kernels/cuda/linear_attn_cuda_emulated.h"

#define MURMUR_CUDA_EMULATION 1
#include "kernels/cuda/cuda_emulation.h"

namespace murmur::kernels {
void LinearAttnForwardCudaEmulatedOnStream(const LinearAttnForwardParams& p, void* stream);
void LinearAttnBackwardCudaEmulatedOnStream(const LinearAttnBackwardParams& p, void* stream);
}  // namespace murmur::kernels

#define LinearAttnForwardCuda LinearAttnForwardCudaEmulatedOnStream
#define LinearAttnBackwardCuda LinearAttnBackwardCudaEmulatedOnStream
#define LinearAttnForwardCudaWorkspaceBytes LinearAttnForwardCudaEmulatedWorkspaceBytes
#define LinearAttnBackwardCudaWorkspaceBytes LinearAttnBackwardCudaEmulatedWorkspaceBytes
#include "kernels/cuda/linear_attn_cuda.cu"  // NOLINT(bugprone-suspicious-include)
#undef LinearAttnForwardCuda
#undef LinearAttnBackwardCuda
#undef LinearAttnForwardCudaWorkspaceBytes
#undef LinearAttnBackwardCudaWorkspaceBytes

namespace murmur::kernels {

void SetEmulatedMaxSharedMemoryPerBlock(size_t bytes) {
  cuda_emulation::MaxDynamicSmemBytes() = bytes;
}

void SetEmulatedComputeCapability(int compute_capability) {
  cuda_emulation::ComputeCapability() = compute_capability;
}

void SetEmulatedMultiProcessorCount(int sms) { cuda_emulation::MultiProcessorCount() = sms; }

void SetEmulatedCopiesLandAtIssue(bool at_issue) { EmulatedCopiesLandAtIssue() = at_issue; }

void LinearAttnForwardCudaEmulated(const LinearAttnForwardParams& p) {
  LinearAttnForwardCudaEmulatedOnStream(p, nullptr);
}

void LinearAttnBackwardCudaEmulated(const LinearAttnBackwardParams& p) {
  LinearAttnBackwardCudaEmulatedOnStream(p, nullptr);
}

}  // namespace murmur::kernels
