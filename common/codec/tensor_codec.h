// The tensor codec: named tensors <-> bytes, for model versions, updates and
// checkpoints. Decoding treats its input as untrusted.
//
// Layout (little-endian):
//   header  "MRMT" | u16 format version (1) | u16 flags (0) | u32 tensor count
//           | u32 reserved (0) | u64 body bytes
//   body    per tensor: u16 name length | name (UTF-8) | u8 encoding | u8 rank
//           | u64 dims[rank] | f32 scale (int8 only) | values
//   trailer u64 XXH3-64 of header and body
// Each tensor carries its own encoding: fp32, fp16, bf16 (round to nearest
// even) or int8 (symmetric, one fp32 scale per tensor: x ~= q * scale).
//
// Decoding never crashes and never allocates more than a small multiple of
// the input: every size is checked against the bytes actually present before
// anything is allocated. Failures come back as a Status whose code says the
// kind of problem (the coordinator maps it to a rejection reason):
//   INVALID_ARGUMENT     malformed: truncated, bad magic/version/flags, bad
//                        name, rank or encoding, trailing bytes, duplicates
//   DATA_LOSS            checksum mismatch
//   RESOURCE_EXHAUSTED   over a configured limit (bytes, tensors)
//   FAILED_PRECONDITION  names or shapes differ from the expected model
//   OUT_OF_RANGE         NaN or Inf values when they are not allowed
//
// Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur {

// Values match murmur.v1.Encoding.
enum class Encoding : uint8_t { kFp32 = 1, kFp16 = 2, kBf16 = 3, kInt8 = 4 };

std::string_view EncodingName(Encoding e);  // "fp32", "fp16", "bf16", "int8"
Result<Encoding> ParseEncoding(std::string_view name);
size_t BytesPerElement(Encoding e);

inline constexpr uint16_t kCodecFormatVersion = 1;
inline constexpr size_t kCodecHeaderBytes = 24;
inline constexpr size_t kCodecTrailerBytes = 8;
inline constexpr size_t kMaxTensorNameBytes = 1024;
inline constexpr size_t kMaxTensorRank = 8;

struct EncodeOptions {
  Encoding encoding = Encoding::kFp32;
  bool allow_nonfinite = false;  // int8 never can
};

struct DecodeOptions {
  size_t max_bytes = size_t{4} << 30;   // whole payload
  size_t max_tensors = 100000;
  bool allow_nonfinite = false;
  const ModelSpec* expected = nullptr;  // when set: exact names and shapes, in order
};

// Size in bytes of the encoding of `tensors` (no validation).
size_t EncodedSize(const TensorList& tensors, Encoding encoding);

Result<std::string> EncodeTensors(const TensorList& tensors, const EncodeOptions& options = {});
// Same, reusing `out`'s storage.
Status EncodeTensorsInto(const TensorList& tensors, const EncodeOptions& options,
                         std::string* out);

Result<TensorList> DecodeTensors(std::string_view bytes, const DecodeOptions& options = {});
// Same, reusing the storage of `out` (a scratch list: on error its contents
// are unspecified, so never decode straight into a live model).
Status DecodeTensorsInto(std::string_view bytes, const DecodeOptions& options, TensorList* out);

}  // namespace murmur
