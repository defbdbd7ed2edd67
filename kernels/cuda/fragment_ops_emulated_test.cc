// The CPU emulation of warp-level matrix fragments (fragment_ops.h): one
// warp's 16x16x16 product equals the plain one, and loads or stores at
// addresses the device would fault on fail the launch as the device does
// ("misaligned address"), so the emulated kernel tests catch a staged
// layout that breaks the fragments' rules.
#define MURMUR_CUDA_EMULATION 1
#include "kernels/cuda/cuda_emulation.h"
#include "kernels/cuda/fragment_ops.h"

#include <gtest/gtest.h>

#include <cstddef>

namespace murmur::kernels {
namespace {

void Kernel() {}  // identifies the launches (no shared-memory opt-in)

// Runs `body` as one warp of 32 lanes.
template <typename Body>
cudaError_t RunWarp(Body body) {
  cuda_emulation::Run(reinterpret_cast<const void*>(&Kernel), 1, 32, 0, body);
  return cudaGetLastError();
}

struct alignas(32) Operands {
  __half a[16 * 24];  // row pitch 24 (48 bytes): padded as RowPitch pads
  __half b[16 * 16];
  float out[16 * 20];
};

TEST(FragmentOpsEmulated, OneWarpProductEqualsThePlainProduct) {
  Operands m;
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c) {
      m.a[r * 24 + c] = __float2half_rn(static_cast<float>((r + 2 * c) % 7) - 3.f);
      m.b[r * 16 + c] = __float2half_rn(static_cast<float>((3 * r + c) % 5) - 2.f);
      m.out[r * 20 + c] = 0.5f;
    }
  }
  const cudaError_t e = RunWarp([&m] {
    FragA<__half, Major::kRow> a;
    FragB<__half, Major::kCol> b;  // B[k][j] = b[j][k]: out = a b^T
    FragAcc acc;
    FragLoad(acc, m.out, 20);
    FragLoad(a, m.a, 24);
    FragLoad(b, m.b, 16);
    FragMma(acc, a, b);
    FragScale(acc, 2.f);
    FragStore(m.out, acc, 20);
  });
  ASSERT_EQ(e, cudaSuccess);
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c) {
      float want = 0.5f;
      for (int k = 0; k < 16; ++k) {
        want += __half2float(m.a[r * 24 + k]) * __half2float(m.b[c * 16 + k]);
      }
      EXPECT_EQ(m.out[r * 20 + c], 2.f * want) << r << "," << c;
    }
  }
}

TEST(FragmentOpsEmulated, AddressesTheDeviceFaultsOnFailTheLaunch) {
  Operands m{};
  // 16 bytes off the 32-byte alignment a fragment pointer needs.
  EXPECT_EQ(RunWarp([&m] {
              FragA<__half, Major::kRow> a;
              FragLoad(a, m.a + 8, 24);
            }),
            cudaErrorMisalignedAddress);
  // A row pitch that is not a multiple of 16 bytes (20 halves: 40 bytes).
  EXPECT_EQ(RunWarp([&m] {
              FragB<__half, Major::kRow> b;
              FragLoad(b, m.b, 20);
            }),
            cudaErrorMisalignedAddress);
  EXPECT_EQ(RunWarp([&m] {
              FragAcc acc;
              FragZero(acc);
              FragStore(m.out + 4, acc, 20);
            }),
            cudaErrorMisalignedAddress);
  // The error is read once, as cudaGetLastError() clears it; a good launch
  // after it succeeds.
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(RunWarp([&m] {
              FragAcc acc;
              FragLoad(acc, m.out, 20);
            }),
            cudaSuccess);
}

}  // namespace
}  // namespace murmur::kernels
