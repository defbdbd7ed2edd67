#include "kernels/cpu/micro_gemm.h"

#include <cstring>

namespace murmur::kernels::cpu {
namespace {

typedef float v8f __attribute__((vector_size(32)));

inline v8f Load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }

// Rows [i, i+R) of C: R x 16 tiles in registers, then the ragged columns.
template <int R, bool kTransA>
__attribute__((always_inline)) inline void RowBlock(int i, int N, int K, float alpha,
                                                    const float* A, int lda, const float* B,
                                                    int ldb, float* C, int ldc, bool accumulate) {
  int j = 0;
  for (; j + 16 <= N; j += 16) {
    v8f c[R][2] = {};
    const float* a = kTransA ? A : A + i * lda;
    for (int k = 0; k < K; ++k) {
      const v8f b0 = Load8(B + k * ldb + j);
      const v8f b1 = Load8(B + k * ldb + j + 8);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        // A^T: the R values of column k sit next to each other in row k of A.
        const float ar = kTransA ? A[k * lda + i + r] : a[r * lda + k];
        c[r][0] += ar * b0;
        c[r][1] += ar * b1;
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      float* row = C + (i + r) * ldc + j;
      if (accumulate) {
        Store8(row, Load8(row) + alpha * c[r][0]);
        Store8(row + 8, Load8(row + 8) + alpha * c[r][1]);
      } else {
        Store8(row, alpha * c[r][0]);
        Store8(row + 8, alpha * c[r][1]);
      }
    }
  }
  for (int r = i; r < i + R; ++r) {
    for (int jj = j; jj < N; ++jj) {
      float s = 0;
      for (int k = 0; k < K; ++k) s += (kTransA ? A[k * lda + r] : A[r * lda + k]) * B[k * ldb + jj];
      C[r * ldc + jj] = (accumulate ? C[r * ldc + jj] : 0.0f) + alpha * s;
    }
  }
}

template <bool kTransA>
__attribute__((always_inline)) inline void GemmImpl(int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                     int ldb, float* C, int ldc, bool accumulate) {
  int i = 0;
  for (; i + 6 <= M; i += 6) RowBlock<6, kTransA>(i, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
  for (; i + 4 <= M; i += 4) RowBlock<4, kTransA>(i, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
  for (; i + 2 <= M; i += 2) RowBlock<2, kTransA>(i, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
  for (; i < M; ++i) RowBlock<1, kTransA>(i, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
}

}  // namespace

// 6x16 tiles: 12 accumulators + 2 B vectors + 1 broadcast fit the 16 AVX
// registers, enough independent FMA chains to hide their latency.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MURMUR_GEMM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MURMUR_GEMM_CLONES
#endif

MURMUR_GEMM_CLONES
void Gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float* C, int ldc, bool accumulate) {
  GemmImpl<false>(M, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
}

MURMUR_GEMM_CLONES
void GemmTN(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float* C, int ldc, bool accumulate) {
  GemmImpl<true>(M, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
}

void Gemm(int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
          double* C, int ldc, bool accumulate) {
  for (int i = 0; i < M; ++i) {
    double* c = C + i * ldc;
    if (!accumulate) {
      for (int j = 0; j < N; ++j) c[j] = 0;
    }
    for (int k = 0; k < K; ++k) {
      const double a = alpha * A[i * lda + k];
      const double* b = B + k * ldb;
      for (int j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

}  // namespace murmur::kernels::cpu

namespace murmur::kernels::cpu {

void GemmTN(int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
            double* C, int ldc, bool accumulate) {
  for (int i = 0; i < M; ++i) {
    double* c = C + i * ldc;
    if (!accumulate) {
      for (int j = 0; j < N; ++j) c[j] = 0;
    }
    for (int k = 0; k < K; ++k) {
      const double a = alpha * A[k * lda + i];
      const double* b = B + k * ldb;
      for (int j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

}  // namespace murmur::kernels::cpu
