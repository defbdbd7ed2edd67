// A CPU emulation of the small part of the CUDA execution model that
// linear_attn_cuda.cu uses, so its kernels run (slowly) and are tested on
// machines without a GPU. It is included instead of the CUDA headers when
// MURMUR_CUDA_EMULATION is defined (see linear_attn_cuda_emulated.cc).
//
// Model: a launch runs its blocks one after another; a block is blockDim.x
// std::threads (kept for the whole launch) that share one std::barrier
// (__syncthreads) and one dynamic shared-memory buffer, NaN-filled before
// each block so a read of shared
// memory no thread wrote shows up in the results. Static __shared__ arrays
// become function statics: shared by a block's threads, which is right
// because blocks never overlap (but, unlike a device, they start zeroed and
// keep their values from block to block). A launch fails as on the device
// when its grid is empty or too large, or when it asks for more dynamic
// shared memory than the kernel opted in to (48 KB without
// cudaFuncSetAttribute) or the device allows (227 KB, as on an H100/H200;
// MaxDynamicSmemBytes() lowers it to model smaller GPUs), or when a thread
// loaded or stored a matrix fragment at an address the device would fault
// on (FragmentAddressFault()); the error stays until cudaGetLastError().
// Shared memory is 128-byte aligned and device memory 256-byte aligned, as
// on a device, so alignment rules are checked against real addresses.
//
// Warp-level matrix fragments (tensor cores) are modelled in
// fragment_ops.h: 32 consecutive threads form a warp, each lane owning its
// share of an accumulator. __shfl_xor_sync and __shfl_up_sync exchange
// through a per-warp buffer between two per-warp barriers, so, as on a
// device, every lane of the warp must call them (one that does not hangs
// the launch).
// Not modelled: other warp intrinsics (votes, other shuffles), lockstep
// execution, the weak memory model between barriers, races between blocks
// (they run in order), streams (everything is synchronous), fast-math
// intrinsics' error (__expf is std::exp here), timing.
// Threading: Run() may be called from any thread; launches are serialized.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "kernels/float16_bits.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define MURMUR_UNROLL
#define MURMUR_NOINLINE
#define __shared__ static
#define MURMUR_DYNAMIC_SMEM(name) float* name = ::cuda_emulation::DynamicSmem()

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local Dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace cuda_emulation {

// What a block may use without opting in, and the opt-in ceiling of the
// emulated device (sm_90: 227 KB; tests lower it to model smaller GPUs).
constexpr size_t kDefaultDynamicSmemBytes = 48 * 1024;
inline size_t& MaxDynamicSmemBytes() {
  static size_t bytes = 227 * 1024;
  return bytes;
}
// The emulated device's compute capability (major * 10 + minor; sm_90).
inline int& ComputeCapability() {
  static int cc = 90;
  return cc;
}
// Its number of SMs (an H100 SXM's 132), which launch plans may read.
inline int& MultiProcessorCount() {
  static int sms = 132;
  return sms;
}

struct BlockContext {
  std::barrier<>* barrier = nullptr;
  float* smem = nullptr;
  std::deque<std::barrier<>>* warp_barriers = nullptr;  // one per warp (__shfl_xor_sync)
  float* warp_exchange = nullptr;                       // 32 floats per warp
};
inline thread_local BlockContext tl_block;

inline float* DynamicSmem() { return tl_block.smem; }

// Per kernel: the dynamic shared memory it opted in to (cudaFuncSetAttribute).
inline std::mutex& StateMutex() {
  static std::mutex m;
  return m;
}
inline std::map<const void*, size_t>& SmemOptIn() {
  static std::map<const void*, size_t> opt_in;
  return opt_in;
}

// The first launch error since the last cudaGetLastError(), as on a device.
enum class LaunchResult { kOk, kInvalidConfiguration, kTooMuchSharedMemory, kMisalignedAddress };
inline LaunchResult& LastLaunch() {
  static thread_local LaunchResult last = LaunchResult::kOk;
  return last;
}

// Set by any thread of a running launch whose fragment load or store broke
// the device's alignment rules (fragment_ops.h); Run() turns it into the
// launch's error.
inline std::atomic<bool>& FragmentAddressFault() {
  static std::atomic<bool> fault{false};
  return fault;
}

// `floats` floats, 128-byte aligned like a block's shared memory.
class AlignedFloats {
 public:
  explicit AlignedFloats(size_t floats)
      : data_(static_cast<float*>(::operator new(floats * sizeof(float), kAlign))),
        end_(data_ + floats) {}
  ~AlignedFloats() { ::operator delete(data_, kAlign); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  float* begin() const { return data_; }
  float* end() const { return end_; }

 private:
  static constexpr std::align_val_t kAlign{128};
  float* data_;
  float* end_;
};

// Runs `body` as `blocks` blocks of `threads` threads with `smem_bytes` of
// dynamic shared memory each; `kernel` identifies the kernel for its
// shared-memory opt-in.
inline void Run(const void* kernel, int64_t blocks, int threads, size_t smem_bytes,
                const std::function<void()>& body) {
  size_t allowed = kDefaultDynamicSmemBytes;
  {
    std::lock_guard<std::mutex> lock(StateMutex());
    auto it = SmemOptIn().find(kernel);
    if (it != SmemOptIn().end()) allowed = it->second;
  }
  LaunchResult result = LaunchResult::kOk;
  if (blocks < 1 || blocks > 0x7fffffff || threads < 1 || threads > 1024) {
    result = LaunchResult::kInvalidConfiguration;
  } else if (smem_bytes > allowed || smem_bytes > MaxDynamicSmemBytes()) {
    result = LaunchResult::kTooMuchSharedMemory;
  }
  if (result != LaunchResult::kOk) {
    if (LastLaunch() == LaunchResult::kOk) LastLaunch() = result;
    return;
  }
  static std::mutex launch_mutex;  // function statics (__shared__) need blocks not to overlap
  std::lock_guard<std::mutex> lock(launch_mutex);
  // Exactly the bytes asked for, so a sanitizer sees an overrun. Two
  // buffers, alternating between blocks: thread 0 NaN-fills the next
  // block's while others may still run this one, so one barrier between
  // blocks is enough (a buffer is refilled only after the barrier that ends
  // the block before the one it served).
  const size_t floats = (smem_bytes + sizeof(float) - 1) / sizeof(float);
  AlignedFloats smem[2] = {AlignedFloats(floats), AlignedFloats(floats)};
  // A float NaN whose two 16-bit halves are bf16 and fp16 NaNs too, so an
  // unwritten 16-bit staged element reads as NaN as well.
  const float nan = std::bit_cast<float>(0x7fc07fc0u);
  std::fill(smem[0].begin(), smem[0].end(), nan);
  std::barrier<> barrier(threads);
  // Per warp: a barrier of its lanes (the last warp may be partial) and
  // the lanes' exchange slots.
  const int warps = (threads + 31) / 32;
  std::deque<std::barrier<>> warp_barriers;  // not movable: a deque keeps them in place
  for (int w = 0; w < warps; ++w) warp_barriers.emplace_back(std::min(32, threads - 32 * w));
  std::vector<float> warp_exchange(static_cast<size_t>(warps) * 32);
  // One thread per block thread for the whole launch; each walks the blocks
  // in turn, with a barrier between blocks.
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      threadIdx = {static_cast<unsigned>(t), 1, 1};
      blockDim = {static_cast<unsigned>(threads), 1, 1};
      gridDim = {static_cast<unsigned>(blocks), 1, 1};
      for (int64_t b = 0; b < blocks; ++b) {
        tl_block = {&barrier, smem[b % 2].begin(), &warp_barriers, warp_exchange.data()};
        blockIdx = {static_cast<unsigned>(b), 1, 1};
        body();
        if (t == 0) std::fill(smem[(b + 1) % 2].begin(), smem[(b + 1) % 2].end(), nan);
        barrier.arrive_and_wait();
      }
    });
  }
  for (std::thread& th : pool) th.join();
  if (FragmentAddressFault().exchange(false) && LastLaunch() == LaunchResult::kOk) {
    LastLaunch() = LaunchResult::kMisalignedAddress;
  }
}

}  // namespace cuda_emulation

inline void __syncthreads() { cuda_emulation::tl_block.barrier->arrive_and_wait(); }

inline float __expf(float x) { return std::exp(x); }

namespace cuda_emulation {
// Every lane of the warp offers `value` and gets the value lane
// source(lane) offered.
template <typename Source>
float WarpExchange(float value, Source source) {
  const BlockContext& b = tl_block;
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* slots = b.warp_exchange + 32 * warp;
  slots[lane] = value;
  (*b.warp_barriers)[warp].arrive_and_wait();
  const float other = slots[source(lane)];
  (*b.warp_barriers)[warp].arrive_and_wait();  // read before any lane writes again
  return other;
}
}  // namespace cuda_emulation

// Full warps only (mask 0xffffffff, as the kernels call them).
// The value of lane (this lane ^ lane_mask).
inline float __shfl_xor_sync(unsigned /*mask*/, float value, int lane_mask) {
  return cuda_emulation::WarpExchange(
      value, [lane_mask](unsigned lane) { return lane ^ static_cast<unsigned>(lane_mask); });
}
// The value of lane (this lane - delta), or this lane's own below delta.
inline float __shfl_up_sync(unsigned /*mask*/, float value, unsigned delta) {
  return cuda_emulation::WarpExchange(
      value, [delta](unsigned lane) { return lane >= delta ? lane - delta : lane; });
}

// bfloat16 as bits, converted like the device (round to nearest even).
struct __nv_bfloat16 {
  uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 x) {
  return std::bit_cast<float>(static_cast<uint32_t>(x.bits) << 16);
}
inline __nv_bfloat16 __float2bfloat16_rn(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40)};
  return {static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

// IEEE binary16 as bits, converted like the device (float16_bits.h).
struct __half {
  uint16_t bits;
};
inline float __half2float(__half x) { return murmur::kernels::Fp16BitsToFloat(x.bits); }
inline __half __float2half_rn(float x) { return {murmur::kernels::FloatToFp16Bits(x)}; }

// Runtime API: what the host side of linear_attn_cuda.cu calls.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorMisalignedAddress = 716,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr {
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
  cudaDevAttrMultiProcessorCount = 16,
};
using cudaStream_t = void*;

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorMisalignedAddress: return "misaligned address";
  }
  return "unknown error";
}

inline cudaError_t cudaGetLastError() {
  const auto last = cuda_emulation::LastLaunch();
  cuda_emulation::LastLaunch() = cuda_emulation::LaunchResult::kOk;
  switch (last) {
    case cuda_emulation::LaunchResult::kOk: return cudaSuccess;
    case cuda_emulation::LaunchResult::kInvalidConfiguration: return cudaErrorInvalidConfiguration;
    case cuda_emulation::LaunchResult::kTooMuchSharedMemory: return cudaErrorInvalidValue;
    case cuda_emulation::LaunchResult::kMisalignedAddress: return cudaErrorMisalignedAddress;
  }
  return cudaErrorInvalidValue;
}

inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = cuda_emulation::ComputeCapability() / 10; break;
    case cudaDevAttrComputeCapabilityMinor: *value = cuda_emulation::ComputeCapability() % 10; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(cuda_emulation::MaxDynamicSmemBytes());
      break;
    case cudaDevAttrMultiProcessorCount: *value = cuda_emulation::MultiProcessorCount(); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

template <typename Kernel>
cudaError_t cudaFuncSetAttribute(Kernel kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > cuda_emulation::MaxDynamicSmemBytes()) {
    return cudaErrorInvalidValue;
  }
  std::lock_guard<std::mutex> lock(cuda_emulation::StateMutex());
  cuda_emulation::SmemOptIn()[reinterpret_cast<const void*>(kernel)] = static_cast<size_t>(value);
  return cudaSuccess;
}

// Device memory is host memory, 256-byte aligned as cudaMalloc's, NaN-filled
// like a fresh, unwritten buffer.
template <typename T>
cudaError_t cudaMallocAsync(T** ptr, size_t bytes, cudaStream_t) {
  *ptr = static_cast<T*>(std::aligned_alloc(256, (bytes + 256) / 256 * 256));
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  float* f = reinterpret_cast<float*>(*ptr);
  std::fill(f, f + bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  return cudaSuccess;
}

inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  std::free(ptr);
  return cudaSuccess;
}
