// Small dense matrix products for the CPU kernels: C (+)= alpha * A @ B on
// row-major blocks of a few dozen rows, the sizes of one attention chunk.
// The float kernel keeps a 4x16 tile of C in vector registers (GCC vector
// extensions: AVX2/FMA when compiled for it, two SSE halves otherwise);
// other types use plain loops. Transposed operands are packed by the caller.
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>

namespace murmur::kernels::cpu {

// C[M,N] = (accumulate ? C : 0) + alpha * A[M,K] @ B[K,N].
void Gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float* C, int ldc, bool accumulate);
void Gemm(int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
          double* C, int ldc, bool accumulate);

// C[M,N] = (accumulate ? C : 0) + alpha * A^T @ B with A stored [K,M]
// (no transpose pass: the micro-kernel reads A's rows as C's row values).
void GemmTN(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float* C, int ldc, bool accumulate);
void GemmTN(int M, int N, int K, double alpha, const double* A, int lda, const double* B, int ldb,
            double* C, int ldc, bool accumulate);

// out[c * ldo + r] = in[r * ldi + c] for an R x C block.
template <typename T>
inline void Transpose(int R, int C, const T* in, int ldi, T* out, int ldo) {
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[c * ldo + r] = in[r * ldi + c];
  }
}

}  // namespace murmur::kernels::cpu
