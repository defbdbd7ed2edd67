#include "common/codec/float_convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "common/rng.h"

namespace murmur::convert {
namespace {

// GCC's _Float16 conversions (libgcc, IEEE round-to-nearest-even) are the oracle.
uint16_t OracleHalf(float f) { return std::bit_cast<uint16_t>(static_cast<_Float16>(f)); }

TEST(FloatConvertTest, EveryHalfDecodesLikeTheOracle) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = HalfToFloat(static_cast<uint16_t>(h));
    float want = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h)));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(ours)) << h;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(ours), std::bit_cast<uint32_t>(want)) << "half " << h;
    }
  }
}

TEST(FloatConvertTest, EncodeMatchesOracleNearEveryHalf) {
  // Each half value, the midpoints around it and one ulp either side of them:
  // all rounding boundaries, subnormals, overflow and the signs.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      float f = HalfToFloat(static_cast<uint16_t>(h | sign));
      uint32_t b = std::bit_cast<uint32_t>(f);
      for (int delta = -4097; delta <= 4097; delta += 1) {
        if (delta > -4090 && delta < -6 && delta != -4096) continue;
        if (delta < 4090 && delta > 6 && delta != 4096) continue;
        float g = std::bit_cast<float>(b + static_cast<uint32_t>(delta));
        if (std::isnan(g)) continue;
        ASSERT_EQ(FloatToHalf(g), OracleHalf(g)) << "float " << g << " bits " << std::hex
                                                 << std::bit_cast<uint32_t>(g);
      }
    }
  }
}

TEST(FloatConvertTest, EncodeMatchesOracleOnRandomFloats) {
  Rng rng(11);
  for (int i = 0; i < 2000000; ++i) {
    float f = std::bit_cast<float>(static_cast<uint32_t>(rng.NextU64()));
    if (std::isnan(f)) {
      EXPECT_EQ(FloatToHalf(f) & 0x7c00, 0x7c00);
      EXPECT_NE(FloatToHalf(f) & 0x03ff, 0);
      continue;
    }
    ASSERT_EQ(FloatToHalf(f), OracleHalf(f)) << f;
  }
}

TEST(FloatConvertTest, HalfSpecialValues) {
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(FloatToHalf(1e30f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(0x1p-24f), 0x0001);     // smallest subnormal
  EXPECT_EQ(FloatToHalf(0x1p-26f), 0x0000);     // underflows to zero
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
}

TEST(FloatConvertTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (1.0).
  EXPECT_EQ(FloatToBf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3*2^-8 is halfway: rounds up to the even 1 + 2^-6.
  EXPECT_EQ(FloatToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits in the low bits must stay NaN, not become Inf.
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_EQ(Bf16ToFloat(0xc040), -3.0f);
}

TEST(FloatConvertTest, BulkConvertersAgreeWithScalarAndFlagNonFinite) {
  Rng rng(12);
  const size_t n = 1001;
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(rng.Normal(0, 100));
  std::vector<uint8_t> half(2 * n), bf(2 * n), f32(4 * n);
  EXPECT_FALSE(Fp32ToFp16(x.data(), half.data(), n));
  EXPECT_FALSE(Fp32ToBf16(x.data(), bf.data(), n));
  EXPECT_FALSE(Fp32ToWire(x.data(), f32.data(), n));
  std::vector<float> back(n);
  EXPECT_FALSE(Fp16ToFp32(half.data(), back.data(), n));
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(back[i], HalfToFloat(FloatToHalf(x[i])));
  EXPECT_FALSE(Bf16ToFp32(bf.data(), back.data(), n));
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(back[i], Bf16ToFloat(FloatToBf16(x[i])));
  EXPECT_FALSE(CopyFp32(f32.data(), back.data(), n));
  EXPECT_EQ(back, x);

  x[500] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(Fp32ToFp16(x.data(), half.data(), n));
  EXPECT_TRUE(Fp32ToBf16(x.data(), bf.data(), n));
  EXPECT_TRUE(Fp32ToWire(x.data(), f32.data(), n));
  EXPECT_TRUE(CopyFp32(f32.data(), back.data(), n));
  EXPECT_TRUE(Fp16ToFp32(half.data(), back.data(), n));
  EXPECT_TRUE(Bf16ToFp32(bf.data(), back.data(), n));
  x[500] = 70000.0f;  // finite but beyond fp16
  EXPECT_TRUE(Fp32ToFp16(x.data(), half.data(), n));
  EXPECT_FALSE(Fp32ToBf16(x.data(), bf.data(), n));
}

TEST(FloatConvertTest, Int8QuantizationErrorIsBoundedByHalfAStep) {
  Rng rng(13);
  const size_t n = 4096;
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(rng.Normal(0, 1));
  bool bad = false;
  float max_abs = MaxAbs(x.data(), n, &bad);
  EXPECT_FALSE(bad);
  const float scale = max_abs / 127.0f;
  std::vector<uint8_t> q(n);
  Fp32ToInt8(x.data(), q.data(), n, 127.0f / max_abs);
  std::vector<float> back(n);
  Int8ToFp32(q.data(), back.data(), n, scale);
  for (size_t i = 0; i < n; ++i) EXPECT_LE(std::abs(back[i] - x[i]), 0.5f * scale * 1.0001f);
  x[7] = -std::numeric_limits<float>::infinity();
  MaxAbs(x.data(), n, &bad);
  EXPECT_TRUE(bad);
}

}  // namespace
}  // namespace murmur::convert
