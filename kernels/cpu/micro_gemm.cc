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

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void Gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float* C, int ldc, bool accumulate) {
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    int j = 0;
    for (; j + 16 <= N; j += 16) {
      v8f c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {};
      const float* a0 = A + (i + 0) * lda;
      const float* a1 = A + (i + 1) * lda;
      const float* a2 = A + (i + 2) * lda;
      const float* a3 = A + (i + 3) * lda;
      for (int k = 0; k < K; ++k) {
        const v8f b0 = Load8(B + k * ldb + j);
        const v8f b1 = Load8(B + k * ldb + j + 8);
        c00 += a0[k] * b0;
        c01 += a0[k] * b1;
        c10 += a1[k] * b0;
        c11 += a1[k] * b1;
        c20 += a2[k] * b0;
        c21 += a2[k] * b1;
        c30 += a3[k] * b0;
        c31 += a3[k] * b1;
      }
      float* r0 = C + (i + 0) * ldc + j;
      float* r1 = C + (i + 1) * ldc + j;
      float* r2 = C + (i + 2) * ldc + j;
      float* r3 = C + (i + 3) * ldc + j;
      if (accumulate) {
        Store8(r0, Load8(r0) + alpha * c00);
        Store8(r0 + 8, Load8(r0 + 8) + alpha * c01);
        Store8(r1, Load8(r1) + alpha * c10);
        Store8(r1 + 8, Load8(r1 + 8) + alpha * c11);
        Store8(r2, Load8(r2) + alpha * c20);
        Store8(r2 + 8, Load8(r2 + 8) + alpha * c21);
        Store8(r3, Load8(r3) + alpha * c30);
        Store8(r3 + 8, Load8(r3 + 8) + alpha * c31);
      } else {
        Store8(r0, alpha * c00);
        Store8(r0 + 8, alpha * c01);
        Store8(r1, alpha * c10);
        Store8(r1 + 8, alpha * c11);
        Store8(r2, alpha * c20);
        Store8(r2 + 8, alpha * c21);
        Store8(r3, alpha * c30);
        Store8(r3 + 8, alpha * c31);
      }
    }
    // Remaining columns of these four rows.
    for (int r = i; r < i + 4; ++r) {
      for (int jj = j; jj < N; ++jj) {
        float s = 0;
        for (int k = 0; k < K; ++k) s += A[r * lda + k] * B[k * ldb + jj];
        C[r * ldc + jj] = (accumulate ? C[r * ldc + jj] : 0.0f) + alpha * s;
      }
    }
  }
  // Remaining rows.
  for (; i < M; ++i) {
    float* c = C + i * ldc;
    if (!accumulate) {
      for (int jj = 0; jj < N; ++jj) c[jj] = 0;
    }
    for (int k = 0; k < K; ++k) {
      const float a = alpha * A[i * lda + k];
      const float* b = B + k * ldb;
      for (int jj = 0; jj < N; ++jj) c[jj] += a * b[jj];
    }
  }
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
