// The CPU emulation of warp-level matrix fragments (fragment_ops.h) and
// warp shuffles (cuda_emulation.h): one warp's 16x16x16 product equals the
// plain one, shuffles exchange within a warp, and loads or stores at
// addresses the device would fault on fail the launch as the device does
// ("misaligned address"), so the emulated kernel tests catch a staged
// layout that breaks the fragments' rules.
#define MURMUR_CUDA_EMULATION 1
#include "kernels/cuda/cuda_emulation.h"
#include "kernels/cuda/fragment_ops.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <limits>

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

// FragMaxAbs combines every lane's share (through __shfl_xor_sync): each
// lane of each of two warps sees its own warp's largest |element|, wherever
// in the tile it sits; NaN is ignored. FragAxpy adds f times a fragment.
TEST(FragmentOpsEmulated, MaxAbsSeesTheWholeTileOnEveryLane) {
  for (int at : {0, 77, 255}) {
    alignas(32) float tiles[2][256];
    for (int w = 0; w < 2; ++w) {
      for (int i = 0; i < 256; ++i) tiles[w][i] = static_cast<float>(i % 13) - 6.f;
    }
    tiles[0][at] = -300.f;
    tiles[1][255 - at] = std::numeric_limits<float>::quiet_NaN();
    tiles[1][at / 2] = 41.f;
    float seen[64];
    alignas(32) float sums[2][256];
    cuda_emulation::Run(reinterpret_cast<const void*>(&Kernel), 1, 64, 0, [&] {
      const int w = static_cast<int>(threadIdx.x / 32);
      FragAcc acc, x;
      FragLoad(acc, tiles[w], 16);
      seen[threadIdx.x] = FragMaxAbs(acc);
      FragLoad(x, tiles[w], 16);
      FragAxpy(acc, 0.5f, x);
      FragStore(sums[w], acc, 16);
    });
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    for (int lane = 0; lane < 64; ++lane) {
      EXPECT_EQ(seen[lane], lane < 32 ? 300.f : 41.f) << "lane " << lane << ", at " << at;
    }
    EXPECT_EQ(sums[0][at], -450.f);
    EXPECT_EQ(sums[1][at / 2], 61.5f);
  }
}

// The emulated __shfl_up_sync: lane l gets lane l - delta's value, lanes
// below delta their own; each warp exchanges only within itself.
TEST(FragmentOpsEmulated, ShuffleUpGivesTheLaneDeltaBelowWithinTheWarp) {
  float got[64][3];
  cuda_emulation::Run(reinterpret_cast<const void*>(&Kernel), 1, 64, 0, [&] {
    const unsigned t = threadIdx.x;
    const float mine = static_cast<float>(100 * (t / 32) + t % 32);
    int i = 0;
    for (unsigned delta : {1u, 5u, 16u}) got[t][i++] = __shfl_up_sync(0xffffffffu, mine, delta);
  });
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int t = 0; t < 64; ++t) {
    int i = 0;
    for (int delta : {1, 5, 16}) {
      const int lane = t % 32, from = lane >= delta ? lane - delta : lane;
      EXPECT_EQ(got[t][i++], static_cast<float>(100 * (t / 32) + from)) << t << ", " << delta;
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
