// Warp-level 16x16x16 matrix fragments for the tensor-core path of
// linear_attn_cuda.cu, behind a few small functions so the kernels read as
// `FragMma(acc, a, b)` and the CPU emulation (MURMUR_CUDA_EMULATION) can
// provide the same functions:
//   FragA<T, Major> / FragB<T, Major>: a 16x16 operand of 16-bit T (__half or
//     __nv_bfloat16) loaded from shared memory, row- or column-major, leading
//     dimension `ld` elements (a multiple of 8; pointer 32-byte aligned);
//   FragAcc: a 16x16 fp32 accumulator;
//   FragZero, FragLoad (operand or accumulator), FragMma (acc += a b, fp32
//   accumulation), FragScale (acc *= f), FragAxpy (acc += f x), FragMaxAbs
//   (the largest |element| of the 16x16 tile, on every lane), FragStore
//   (fp32, row-major).
// Every function is warp-collective: all 32 lanes of a warp call it with
// the same arguments. Device: nvcuda::wmma (sm_70+ for fp16, sm_80+ for
// bf16; the bf16 operands do not exist below sm_80, where the planner never
// picks the tensor-core path for bf16 and a call traps).
// Emulation: lane l of a warp owns accumulator elements 8l .. 8l + 7
// (row-major), like a device lane owns some fixed eight; an operand is held
// whole by every lane. Products of two 16-bit values are exact in fp32, so
// the emulated mma differs from the device only by summation order. Loads
// and stores check the device's address rules (pointer 32-byte aligned, ld
// a multiple of 16 bytes); a breach fails the launch with "misaligned
// address", as the device does.
// Threading: per warp; no shared state.
#pragma once

#ifndef MURMUR_CUDA_EMULATION
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif

#include <cstdint>
#include <type_traits>

#ifdef MURMUR_CUDA_EMULATION
#include "kernels/cuda/cuda_emulation.h"
#endif

namespace murmur::kernels {

enum class Major { kRow, kCol };

#ifndef MURMUR_CUDA_EMULATION

namespace wmma = nvcuda::wmma;

template <Major M>
using WmmaLayout = std::conditional_t<M == Major::kRow, wmma::row_major, wmma::col_major>;

// bf16 fragments exist only where the device has them (sm_80+, and the host pass).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define MURMUR_WMMA_BF16 1
#endif

template <typename T>
struct WmmaSupported : std::true_type {};
#ifndef MURMUR_WMMA_BF16
template <>
struct WmmaSupported<__nv_bfloat16> : std::false_type {};
#endif

struct NoFragment {};

template <typename T, Major M>
using FragA = std::conditional_t<
    WmmaSupported<T>::value,
    wmma::fragment<wmma::matrix_a, 16, 16, 16,
                   std::conditional_t<WmmaSupported<T>::value, T, __half>, WmmaLayout<M>>,
    NoFragment>;
template <typename T, Major M>
using FragB = std::conditional_t<
    WmmaSupported<T>::value,
    wmma::fragment<wmma::matrix_b, 16, 16, 16,
                   std::conditional_t<WmmaSupported<T>::value, T, __half>, WmmaLayout<M>>,
    NoFragment>;
using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__device__ __forceinline__ void FragZero(FragAcc& acc) { wmma::fill_fragment(acc, 0.f); }
__device__ __forceinline__ void FragLoad(FragAcc& acc, const float* p, int ld) {
  wmma::load_matrix_sync(acc, p, ld, wmma::mem_row_major);
}
template <typename Frag, typename T>
__device__ __forceinline__ void FragLoad(Frag& f, const T* p, int ld) {
  if constexpr (std::is_same_v<Frag, NoFragment>) {
    __trap();
  } else {
    wmma::load_matrix_sync(f, p, ld);
  }
}
template <typename FA, typename FB>
__device__ __forceinline__ void FragMma(FragAcc& acc, const FA& a, const FB& b) {
  if constexpr (std::is_same_v<FA, NoFragment>) {
    __trap();
  } else {
    wmma::mma_sync(acc, a, b, acc);
  }
}
__device__ __forceinline__ void FragScale(FragAcc& acc, float f) {
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= f;
}
__device__ __forceinline__ void FragStore(float* p, const FragAcc& acc, int ld) {
  wmma::store_matrix_sync(p, acc, ld, wmma::mem_row_major);
}

#else  // MURMUR_CUDA_EMULATION

inline int EmulatedLane() { return static_cast<int>(threadIdx.x % 32); }
template <typename T>
void CheckFragmentAddress(const T* p, int ld) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || ld * sizeof(T) % 16 != 0) {
    cuda_emulation::FragmentAddressFault() = true;
  }
}
inline float FragToF(__half x) { return __half2float(x); }
inline float FragToF(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T, Major M>
struct FragA {
  float x[16][16];  // [row][k], exactly the 16-bit values
};
template <typename T, Major M>
struct FragB {
  float x[16][16];  // [k][col]
};
struct FragAcc {
  static constexpr int num_elements = 8;
  float x[8];  // elements 8 * lane .. 8 * lane + 7, row-major
};

inline void FragZero(FragAcc& acc) {
  for (float& v : acc.x) v = 0.f;
}
inline void FragLoad(FragAcc& acc, const float* p, int ld) {
  CheckFragmentAddress(p, ld);
  const int first = 8 * EmulatedLane();
  for (int e = 0; e < 8; ++e) acc.x[e] = p[(first + e) / 16 * ld + (first + e) % 16];
}
template <typename T, Major M>
void FragLoad(FragA<T, M>& f, const T* p, int ld) {
  CheckFragmentAddress(p, ld);
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c)
      f.x[r][c] = FragToF(M == Major::kRow ? p[r * ld + c] : p[c * ld + r]);
  }
}
template <typename T, Major M>
void FragLoad(FragB<T, M>& f, const T* p, int ld) {
  CheckFragmentAddress(p, ld);
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c)
      f.x[r][c] = FragToF(M == Major::kRow ? p[r * ld + c] : p[c * ld + r]);
  }
}
template <typename T, Major MA, Major MB>
void FragMma(FragAcc& acc, const FragA<T, MA>& a, const FragB<T, MB>& b) {
  const int first = 8 * EmulatedLane();
  for (int e = 0; e < 8; ++e) {
    const int r = (first + e) / 16, c = (first + e) % 16;
    float sum = acc.x[e];
    for (int k = 0; k < 16; ++k) sum += a.x[r][k] * b.x[k][c];
    acc.x[e] = sum;
  }
}
inline void FragScale(FragAcc& acc, float f) {
  for (float& v : acc.x) v *= f;
}
inline void FragStore(float* p, const FragAcc& acc, int ld) {
  CheckFragmentAddress(p, ld);
  const int first = 8 * EmulatedLane();
  for (int e = 0; e < 8; ++e) p[(first + e) / 16 * ld + (first + e) % 16] = acc.x[e];
}

#endif  // MURMUR_CUDA_EMULATION

__device__ __forceinline__ void FragAxpy(FragAcc& acc, float f, const FragAcc& x) {
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] += f * x.x[i];
}
// Each lane holds a share of the tile's elements: their maximum, then a
// butterfly over the warp's lanes. NaNs are ignored (fmaxf).
__device__ __forceinline__ float FragMaxAbs(const FragAcc& acc) {
  float m = 0.f;
  for (int i = 0; i < acc.num_elements; ++i) m = fmaxf(m, fabsf(acc.x[i]));
  for (int lanes = 16; lanes > 0; lanes /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, lanes));
  return m;
}

// Where the elements of an accumulator fragment sit in its 16x16 tile, so
// epilogues (scaling rows, masking, storing with per-element work) run on
// the registers: WMMA leaves the mapping unspecified but fixed for a
// fragment type, so loading a table with 16 r + c at [r][c] (FillCoordTable,
// row pitch 16, block-collective; sync before loading) gives `coords`, and
// element i of every accumulator is at row FragRow(coords, i), column
// FragCol(coords, i). Exact: every entry is an integer below 256.
__device__ __forceinline__ void FillCoordTable(float* table) {
  for (int i = static_cast<int>(threadIdx.x); i < 256; i += static_cast<int>(blockDim.x)) {
    table[i] = static_cast<float>(i);
  }
}
__device__ __forceinline__ int FragRow(const FragAcc& coords, int i) {
  return static_cast<int>(coords.x[i]) >> 4;
}
__device__ __forceinline__ int FragCol(const FragAcc& coords, int i) {
  return static_cast<int>(coords.x[i]) & 15;
}

}  // namespace murmur::kernels
