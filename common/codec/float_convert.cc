#include "common/codec/float_convert.h"

#include <bit>
#include <cmath>
#include <cstring>

static_assert(std::endian::native == std::endian::little,
              "murmur's wire format is little-endian; big-endian hosts need byte swaps");

namespace murmur::convert {
namespace {

inline uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }
inline float FromBits(uint32_t u) { return std::bit_cast<float>(u); }

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void Store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Bit 31 of the result is set when the fp32 exponent field is all ones.
inline uint32_t Fp32BadBit(uint32_t x) { return (x & 0x7f800000u) + 0x00800000u; }

inline uint16_t HalfFromBits(uint32_t x) {
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  const int32_t sa = static_cast<int32_t>(a);  // signed compares vectorize on SSE2
  // Normal range: rebias exponent (127 -> 15) and round to nearest even.
  const uint32_t normal = (a - 0x38000000u + 0x0fffu + ((a >> 13) & 1u)) >> 13;
  // Below 2^-14 the result is subnormal: let the FPU round value + 0.5.
  const uint32_t sub = Bits(FromBits(a) + 0.5f) - 0x3f000000u;
  uint32_t h = sa < 0x38800000 ? sub : normal;
  h = sa >= 0x477ff000 ? 0x7c00u : h;  // rounds past 65504: infinity
  h = sa > 0x7f800000 ? 0x7e00u : h;   // NaN stays a (quiet) NaN
  return static_cast<uint16_t>(h | sign);
}

inline uint32_t BitsFromHalf(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  const uint32_t e = em & 0x7c00u;
  const uint32_t normal = (em << 13) + 0x38000000u;
  const uint32_t infnan = (em << 13) + 0x70000000u;
  const uint32_t sub = Bits(static_cast<float>(static_cast<int32_t>(em)) * 0x1p-24f);
  uint32_t o = e == 0 ? sub : normal;
  o = e == 0x7c00u ? infnan : o;
  return o | sign;
}

inline uint16_t Bf16FromBits(uint32_t x) {
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  const uint32_t nan = (x >> 16) | 0x0040u;
  return static_cast<uint16_t>(static_cast<int32_t>(x & 0x7fffffffu) > 0x7f800000 ? nan : rounded);
}

}  // namespace

// On x86-64 the bulk loops are also compiled for AVX2 (x86-64-v3) and picked
// at load time; elsewhere the portable build is used.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MURMUR_BULK __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MURMUR_BULK
#endif

uint16_t FloatToHalf(float f) { return HalfFromBits(Bits(f)); }
float HalfToFloat(uint16_t h) { return FromBits(BitsFromHalf(h)); }
uint16_t FloatToBf16(float f) { return Bf16FromBits(Bits(f)); }
float Bf16ToFloat(uint16_t h) { return FromBits(static_cast<uint32_t>(h) << 16); }

MURMUR_BULK bool CopyFp32(const uint8_t* src, float* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t x;
    std::memcpy(&x, src + 4 * i, 4);
    bad |= Fp32BadBit(x);
    dst[i] = FromBits(x);
  }
  return (bad & 0x80000000u) != 0;
}

MURMUR_BULK bool Fp32ToWire(const float* src, uint8_t* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = Bits(src[i]);
    bad |= Fp32BadBit(x);
    std::memcpy(dst + 4 * i, &x, 4);
  }
  return (bad & 0x80000000u) != 0;
}

MURMUR_BULK bool Fp32ToFp16(const float* src, uint8_t* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint16_t h = HalfFromBits(Bits(src[i]));
    bad |= (h & 0x7c00u) + 0x0400u;  // bit 15: exponent all ones (Inf/NaN)
    Store16(dst + 2 * i, h);
  }
  return (bad & 0x8000u) != 0;
}

MURMUR_BULK bool Fp16ToFp32(const uint8_t* src, float* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t h = Load16(src + 2 * i);
    bad |= (h & 0x7c00u) + 0x0400u;
    dst[i] = FromBits(BitsFromHalf(h));
  }
  return (bad & 0x8000u) != 0;
}

MURMUR_BULK bool Fp32ToBf16(const float* src, uint8_t* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = Bits(src[i]);
    bad |= Fp32BadBit(x);
    Store16(dst + 2 * i, Bf16FromBits(x));
  }
  return (bad & 0x80000000u) != 0;
}

MURMUR_BULK bool Bf16ToFp32(const uint8_t* src, float* dst, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t h = Load16(src + 2 * i);
    bad |= (h & 0x7f80u) + 0x0080u;
    dst[i] = FromBits(h << 16);
  }
  return (bad & 0x8000u) != 0;
}

MURMUR_BULK float MaxAbs(const float* src, size_t n, bool* nonfinite) {
  uint32_t bad = 0;
  uint32_t max_bits = 0;  // |x| of finite non-negative floats orders like its bits
  for (size_t i = 0; i < n; ++i) {
    uint32_t a = Bits(src[i]) & 0x7fffffffu;
    bad |= Fp32BadBit(a);
    max_bits = a > max_bits ? a : max_bits;
  }
  *nonfinite = (bad & 0x80000000u) != 0;
  return FromBits(max_bits);
}

MURMUR_BULK void Fp32ToInt8(const float* src, uint8_t* dst, size_t n, float inv_scale) {
  for (size_t i = 0; i < n; ++i) {
    float v = src[i] * inv_scale;
    v = v > 127.0f ? 127.0f : v;
    v = v < -127.0f ? -127.0f : v;
    v += v >= 0.0f ? 0.5f : -0.5f;  // round half away from zero, then truncate
    dst[i] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int32_t>(v)));
  }
}

MURMUR_BULK void Int8ToFp32(const uint8_t* src, float* dst, size_t n, float scale) {
  for (size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<float>(static_cast<int8_t>(src[i])) * scale;
  }
}

}  // namespace murmur::convert
