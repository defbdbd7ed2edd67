// Element conversions between fp32 and the wire encodings (fp16, bf16, int8),
// fused with the finiteness check so each value is touched once.
//
// Sources on the wire are unaligned byte pointers (little-endian); the loops
// are branch-free so the compiler vectorizes them. Rounding: fp16 and bf16
// round to nearest even (IEEE); int8 rounds half away from zero.
// Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace murmur::convert {

// Each returns true when any value it converted is NaN or infinite (for
// encoders: in the input, or overflowing to infinity in fp16).
bool CopyFp32(const uint8_t* src, float* dst, size_t n);
bool Fp32ToWire(const float* src, uint8_t* dst, size_t n);
bool Fp32ToFp16(const float* src, uint8_t* dst, size_t n);
bool Fp16ToFp32(const uint8_t* src, float* dst, size_t n);
bool Fp32ToBf16(const float* src, uint8_t* dst, size_t n);
bool Bf16ToFp32(const uint8_t* src, float* dst, size_t n);

// Largest |x| (NaN/Inf reported through *nonfinite).
float MaxAbs(const float* src, size_t n, bool* nonfinite);
// q = clamp(round(x * inv_scale), -127, 127).
void Fp32ToInt8(const float* src, uint8_t* dst, size_t n, float inv_scale);
void Int8ToFp32(const uint8_t* src, float* dst, size_t n, float scale);

// Scalar forms (tests, small paths).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t h);

}  // namespace murmur::convert
