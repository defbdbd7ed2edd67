// Global-to-shared copies that run in the background (cp.async, sm_80+),
// so a kernel that walks chunks in sequence (the state walks of
// linear_attn_cuda.cu) fetches the next chunk's tiles while it computes on
// the current one:
//   CopyAsync16(dst, src, valid): 16 bytes from global `src` to shared `dst`
//     (both 16-byte aligned), or 16 zero bytes when !valid (src is then not
//     read but must still be a valid address);
//   CopyAsync4(dst, src): 4 bytes (both 4-byte aligned);
//   CommitCopies(): closes this thread's group of copies issued since the
//     last commit;
//   WaitCopies<N>(): returns once all but this thread's N newest groups have
//     landed. Other threads' copies are visible after a __syncthreads that
//     follows their own wait.
//   PrefetchL2(p, bytes): block-collective; asks L2 to fetch the global
//     bytes [p, p + bytes) (prefetch.global.L2, one per 128-byte line dealt
//     over the block's threads) so a later load of them waits on L2, not
//     on device memory. A hint: no effect on results; none in the host pass
//     or the emulation.
// Device, sm_80 and later: cp.async.cg / .ca, commit_group, wait_group.
// Below sm_80 (fp16 tensor cores on a T4) and in the host pass: plain
// loads and stores at the call, complete at once, so the same code runs
// without overlap.
// Emulation (MURMUR_CUDA_EMULATION): a device's copy lands anywhere between
// its issue and its wait, so the emulation does either extreme. By default
// each thread queues its copies by group and performs them only in
// WaitCopies: a read of a buffer before the wait and barrier that guard it
// sees its old contents and fails the kernel tests. With
// EmulatedCopiesLandAtIssue() (and on an emulated GPU below sm_80, as on
// the device) a copy lands at its issue: one into a buffer other threads
// still read gives wrong results or, under ThreadSanitizer, a race report.
// Threading: per thread; a thread's groups are its own.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef MURMUR_CUDA_EMULATION
#include <deque>
#include <vector>

#include "kernels/cuda/cuda_emulation.h"
#endif

namespace murmur::kernels {

#ifdef MURMUR_CUDA_EMULATION

// Whether emulated copies land at their issue rather than at their wait.
inline bool& EmulatedCopiesLandAtIssue() {
  static bool at_issue = false;
  return at_issue;
}

namespace async_copy_emulation {
struct Copy {
  void* dst;
  const void* src;  // null: zero-fill
  int bytes;
};
struct Queue {
  std::vector<Copy> open;                 // issued, not yet committed
  std::deque<std::vector<Copy>> groups;  // committed, oldest first
};
inline thread_local Queue queue;
inline void Perform(const Copy& c) {
  if (c.src != nullptr) {
    std::memcpy(c.dst, c.src, static_cast<size_t>(c.bytes));
  } else {
    std::memset(c.dst, 0, static_cast<size_t>(c.bytes));
  }
}
inline void Issue(const Copy& c) {
  if (EmulatedCopiesLandAtIssue() || cuda_emulation::ComputeCapability() < 80) {
    Perform(c);
  } else {
    queue.open.push_back(c);
  }
}
}  // namespace async_copy_emulation

inline void CopyAsync16(void* dst, const void* src, bool valid) {
  async_copy_emulation::Issue({dst, valid ? src : nullptr, 16});
}
inline void CopyAsync4(void* dst, const void* src) { async_copy_emulation::Issue({dst, src, 4}); }
inline void CommitCopies() {
  auto& q = async_copy_emulation::queue;
  q.groups.push_back(std::move(q.open));
  q.open.clear();
}
template <int N>
void WaitCopies() {
  auto& q = async_copy_emulation::queue;
  while (q.groups.size() > static_cast<size_t>(N)) {
    for (const auto& c : q.groups.front()) async_copy_emulation::Perform(c);
    q.groups.pop_front();
  }
}
inline void PrefetchL2(const void* /*p*/, int64_t /*bytes*/) {}

#else  // device

__device__ __forceinline__ void CopyAsync16(void* dst, const void* src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(to), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
#else
  uint4 v = make_uint4(0, 0, 0, 0);
  if (valid) v = *static_cast<const uint4*>(src);
  *static_cast<uint4*>(dst) = v;
#endif
}
__device__ __forceinline__ void CopyAsync4(void* dst, const void* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(to), "l"(src) : "memory");
#else
  *static_cast<float*>(dst) = *static_cast<const float*>(src);
#endif
}
__device__ __forceinline__ void CommitCopies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void WaitCopies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}
__device__ __forceinline__ void PrefetchL2(const void* p, int64_t bytes) {
#if defined(__CUDA_ARCH__)
  constexpr int kLine = 128;
  const int skew = static_cast<int>(reinterpret_cast<uintptr_t>(p) % kLine);
  const char* first = static_cast<const char*>(p) - skew;  // the first line's start
  const int lines = static_cast<int>((skew + bytes + kLine - 1) / kLine);
  for (int i = static_cast<int>(threadIdx.x); i < lines; i += static_cast<int>(blockDim.x)) {
    asm volatile("prefetch.global.L2 [%0];\n" ::"l"(first + i * kLine));
  }
#endif
}

#endif  // MURMUR_CUDA_EMULATION

}  // namespace murmur::kernels
