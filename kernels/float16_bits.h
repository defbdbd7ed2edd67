// IEEE binary16 (fp16) <-> float on bits, as a GPU converts: round to
// nearest even, subnormals kept, overflow to infinity, NaN kept. Used by the
// CPU kernels (fp16 inputs are read and written through it, arithmetic is
// fp32) and by the CPU emulation of CUDA's __half.
// Threading: pure functions.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace murmur::kernels {

inline float Fp16BitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu, mant = bits & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

inline uint16_t FloatToFp16Bits(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (a < 0x38800000u) {  // below 2^-14: a subnormal, in units of 2^-24
    const float units = std::nearbyint(std::bit_cast<float>(a) * 16777216.f);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(units));
  }
  const uint32_t mant = a & 0x7fffffu;
  uint32_t h = (((a >> 23) - 127 + 15) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // may carry into the exponent
  return static_cast<uint16_t>(sign | h);
}

}  // namespace murmur::kernels
