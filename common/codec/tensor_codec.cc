#include "common/codec/tensor_codec.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "common/checksum.h"
#include "common/codec/float_convert.h"

namespace murmur {
namespace {

constexpr char kMagic[4] = {'M', 'R', 'M', 'T'};
// Data is hashed and converted in blocks of this many wire bytes, so the
// second pass over a block hits cache.
constexpr size_t kBlockBytes = 128 * 1024;

// Hashes a buffer front to back as the caller finishes each part of it.
class BlockHasher {
 public:
  explicit BlockHasher(const void* base) : base_(static_cast<const uint8_t*>(base)) {}
  void HashTo(size_t end) {
    if (end > hashed_) {
      hasher_.Update(base_ + hashed_, end - hashed_);
      hashed_ = end;
    }
  }
  uint64_t Digest() const { return hasher_.Digest(); }

 private:
  const uint8_t* base_;
  size_t hashed_ = 0;
  Xxh3Hasher hasher_;
};

bool ValidEncoding(uint8_t e) { return e >= 1 && e <= 4; }

template <typename T>
void Put(std::string* out, size_t* pos, T v) {
  std::memcpy(out->data() + *pos, &v, sizeof(T));
  *pos += sizeof(T);
}

// Bounds-checked little-endian reader over the untrusted body.
class Reader {
 public:
  Reader(const uint8_t* base, size_t begin, size_t end) : base_(base), pos_(begin), end_(end) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }
  template <typename T>
  bool Read(T* v) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* base_;
  size_t pos_;
  size_t end_;
};

struct TensorView {
  std::string_view name;
  Encoding encoding;
  Shape shape;
  int64_t numel;
  float scale;
  size_t data_offset;  // within the payload
  size_t data_bytes;
};

Status Malformed(std::string msg) { return InvalidArgumentError("malformed tensor payload: " + msg); }

Status ValidateForEncode(const TensorList& tensors, const EncodeOptions& options) {
  if (tensors.size() > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgumentError("too many tensors to encode");
  }
  if (!ValidEncoding(static_cast<uint8_t>(options.encoding))) {
    return InvalidArgumentError("unknown encoding");
  }
  std::unordered_set<std::string_view> names;
  for (const Tensor& t : tensors) {
    if (t.name.empty() || t.name.size() > kMaxTensorNameBytes) {
      return InvalidArgumentError(fmt::format("tensor name '{}' must be 1..{} bytes", t.name,
                                              kMaxTensorNameBytes));
    }
    if (!names.insert(t.name).second) {
      return InvalidArgumentError(fmt::format("duplicate tensor name '{}'", t.name));
    }
    if (t.shape.size() > kMaxTensorRank) {
      return InvalidArgumentError(fmt::format("tensor '{}' has rank {} (at most {})", t.name,
                                              t.shape.size(), kMaxTensorRank));
    }
    for (int64_t d : t.shape) {
      if (d < 0) {
        return InvalidArgumentError(
            fmt::format("tensor '{}' has a negative dimension in {}", t.name, ShapeString(t.shape)));
      }
    }
    if (static_cast<int64_t>(t.data.size()) != t.numel()) {
      return InvalidArgumentError(fmt::format("tensor '{}' has {} values but shape {} needs {}",
                                              t.name, t.data.size(), ShapeString(t.shape),
                                              t.numel()));
    }
  }
  return Status();
}

Status NonFiniteOnEncode(const Tensor& t, Encoding e) {
  if (e == Encoding::kFp16) {
    return OutOfRangeError(fmt::format(
        "tensor '{}' has NaN/Inf or values beyond fp16's range (|x| > 65504); use bf16 or fp32",
        t.name));
  }
  if (e == Encoding::kInt8) {
    return OutOfRangeError(
        fmt::format("tensor '{}' has NaN or Inf values, which int8 cannot encode", t.name));
  }
  return OutOfRangeError(fmt::format("tensor '{}' has NaN or Inf values", t.name));
}

// Parses and bounds-checks the structure; no tensor data is touched.
Status ParseStructure(std::string_view bytes, const DecodeOptions& options,
                      std::vector<TensorView>* views) {
  if (bytes.size() > options.max_bytes) {
    return ResourceExhaustedError(fmt::format("tensor payload is {} bytes, over the limit of {}",
                                              bytes.size(), options.max_bytes));
  }
  if (bytes.size() < kCodecHeaderBytes + kCodecTrailerBytes) {
    return Malformed(fmt::format("truncated: {} bytes is shorter than the {}-byte header and trailer",
                                 bytes.size(), kCodecHeaderBytes + kCodecTrailerBytes));
  }
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
  if (std::memcmp(base, kMagic, 4) != 0) return Malformed("bad magic (not a murmur tensor payload)");
  Reader header(base, 4, kCodecHeaderBytes);
  uint16_t version = 0, flags = 0;
  uint32_t count = 0, reserved = 0;
  uint64_t body_bytes = 0;
  (void)header.Read(&version);
  (void)header.Read(&flags);
  (void)header.Read(&count);
  (void)header.Read(&reserved);
  (void)header.Read(&body_bytes);
  if (version != kCodecFormatVersion) {
    return Malformed(fmt::format("format version {} is not supported (this build reads {})",
                                 version, kCodecFormatVersion));
  }
  if (flags != 0 || reserved != 0) return Malformed("reserved header fields are not zero");
  const uint64_t actual_body = bytes.size() - kCodecHeaderBytes - kCodecTrailerBytes;
  if (body_bytes != actual_body) {
    return Malformed(fmt::format("header says the body is {} bytes but {} are present{}",
                                 body_bytes, actual_body,
                                 body_bytes > actual_body ? " (truncated)" : ""));
  }
  if (count > options.max_tensors) {
    return ResourceExhaustedError(
        fmt::format("payload has {} tensors, over the limit of {}", count, options.max_tensors));
  }
  if (options.expected != nullptr && count != options.expected->size()) {
    return FailedPreconditionError(fmt::format("payload has {} tensors but the model has {}", count,
                                               options.expected->size()));
  }
  // Every tensor needs at least 4 bytes of record, which bounds the reserve.
  if (count > actual_body / 4) {
    return Malformed(fmt::format("{} tensors cannot fit in a {}-byte body", count, actual_body));
  }
  views->clear();
  views->reserve(count);
  std::unordered_set<std::string_view> names;
  Reader r(base, kCodecHeaderBytes, kCodecHeaderBytes + actual_body);
  for (uint32_t i = 0; i < count; ++i) {
    TensorView v;
    uint16_t name_len = 0;
    if (!r.Read(&name_len)) return Malformed(fmt::format("truncated in tensor {} header", i));
    if (name_len == 0 || name_len > kMaxTensorNameBytes) {
      return Malformed(fmt::format("tensor {} has a name of {} bytes (must be 1..{})", i, name_len,
                                   kMaxTensorNameBytes));
    }
    const size_t name_pos = r.pos();
    if (!r.Skip(name_len)) return Malformed(fmt::format("truncated in tensor {} name", i));
    v.name = std::string_view(bytes.data() + name_pos, name_len);
    if (v.name.find('\0') != std::string_view::npos) {
      return Malformed(fmt::format("tensor {} name contains a NUL byte", i));
    }
    uint8_t enc = 0, rank = 0;
    if (!r.Read(&enc) || !r.Read(&rank)) {
      return Malformed(fmt::format("truncated in tensor '{}' header", v.name));
    }
    if (!ValidEncoding(enc)) {
      return Malformed(fmt::format("tensor '{}' has unknown encoding {}", v.name, enc));
    }
    v.encoding = static_cast<Encoding>(enc);
    if (rank > kMaxTensorRank) {
      return Malformed(fmt::format("tensor '{}' has rank {} (at most {})", v.name, rank,
                                   kMaxTensorRank));
    }
    v.shape.resize(rank);
    for (uint8_t d = 0; d < rank; ++d) {
      uint64_t dim = 0;
      if (!r.Read(&dim)) return Malformed(fmt::format("truncated in tensor '{}' shape", v.name));
      if (dim > (uint64_t{1} << 48)) {
        return Malformed(fmt::format("tensor '{}' dimension {} is {}, too large", v.name, d, dim));
      }
      v.shape[d] = static_cast<int64_t>(dim);
    }
    // The values must be present in the payload; saturating at that bound
    // while multiplying also rules out overflow.
    const uint64_t elem = BytesPerElement(v.encoding);
    const uint64_t max_numel = r.remaining() / elem;
    uint64_t numel = 1;
    for (int64_t dim : v.shape) {
      const uint64_t d = static_cast<uint64_t>(dim);
      numel = d == 0 ? 0 : (numel > max_numel / d ? max_numel + 1 : numel * d);
      if (numel == 0) break;
    }
    if (numel > max_numel) {
      return Malformed(fmt::format("tensor '{}' of shape {} is larger than the payload", v.name,
                                   ShapeString(v.shape)));
    }
    v.numel = static_cast<int64_t>(numel);
    v.scale = 0.0f;
    if (v.encoding == Encoding::kInt8) {
      if (!r.Read(&v.scale)) return Malformed(fmt::format("truncated in tensor '{}' scale", v.name));
      // An encoder's scale is max|x|/127, so anything larger would decode
      // to infinities.
      if (!std::isfinite(v.scale) || v.scale < 0.0f ||
          v.scale > std::numeric_limits<float>::max() / 127.0f) {
        return Malformed(fmt::format("tensor '{}' has an invalid int8 scale {}", v.name, v.scale));
      }
    }
    v.data_bytes = numel * elem;
    v.data_offset = r.pos();
    if (!r.Skip(v.data_bytes)) {
      return Malformed(fmt::format("truncated: tensor '{}' needs {} bytes of values, {} left", v.name,
                                   v.data_bytes, r.remaining()));
    }
    if (options.expected != nullptr) {
      const TensorSpec& want = (*options.expected)[i];
      if (v.name != want.name) {
        return FailedPreconditionError(fmt::format("tensor {} is '{}' but the model expects '{}'", i,
                                                   v.name, want.name));
      }
      if (v.shape != want.shape) {
        return FailedPreconditionError(
            fmt::format("tensor '{}' has shape {} but the model expects {}", v.name,
                        ShapeString(v.shape), ShapeString(want.shape)));
      }
    } else if (!names.insert(v.name).second) {
      return Malformed(fmt::format("duplicate tensor name '{}'", v.name));
    }
    views->push_back(std::move(v));
  }
  if (r.remaining() != 0) {
    return Malformed(fmt::format("{} unexpected bytes after the last tensor", r.remaining()));
  }
  return Status();
}

// Converts `n` elements of `v` starting at element `first`.
bool DecodeRange(const uint8_t* wire, const TensorView& v, float* dst, size_t first, size_t n) {
  switch (v.encoding) {
    case Encoding::kFp32: return convert::CopyFp32(wire + first * 4, dst + first, n);
    case Encoding::kFp16: return convert::Fp16ToFp32(wire + first * 2, dst + first, n);
    case Encoding::kBf16: return convert::Bf16ToFp32(wire + first * 2, dst + first, n);
    case Encoding::kInt8: convert::Int8ToFp32(wire + first, dst + first, n, v.scale); return false;
  }
  return true;
}

}  // namespace

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kFp32: return "fp32";
    case Encoding::kFp16: return "fp16";
    case Encoding::kBf16: return "bf16";
    case Encoding::kInt8: return "int8";
  }
  return "unknown";
}

Result<Encoding> ParseEncoding(std::string_view name) {
  for (Encoding e : {Encoding::kFp32, Encoding::kFp16, Encoding::kBf16, Encoding::kInt8}) {
    if (name == EncodingName(e)) return e;
  }
  return InvalidArgumentError(
      fmt::format("unknown encoding '{}' (expected fp32, fp16, bf16 or int8)", name));
}

size_t BytesPerElement(Encoding e) {
  switch (e) {
    case Encoding::kFp32: return 4;
    case Encoding::kFp16:
    case Encoding::kBf16: return 2;
    case Encoding::kInt8: return 1;
  }
  return 4;
}

size_t EncodedSize(const TensorList& tensors, Encoding encoding) {
  size_t n = kCodecHeaderBytes + kCodecTrailerBytes;
  for (const Tensor& t : tensors) {
    n += 2 + t.name.size() + 2 + 8 * t.shape.size() + (encoding == Encoding::kInt8 ? 4 : 0) +
         t.data.size() * BytesPerElement(encoding);
  }
  return n;
}

Result<std::string> EncodeTensors(const TensorList& tensors, const EncodeOptions& options) {
  std::string out;
  MURMUR_RETURN_IF_ERROR(EncodeTensorsInto(tensors, options, &out));
  return out;
}

Status EncodeTensorsInto(const TensorList& tensors, const EncodeOptions& options,
                         std::string* out) {
  MURMUR_RETURN_IF_ERROR(ValidateForEncode(tensors, options));
  const Encoding enc = options.encoding;
  const size_t total = EncodedSize(tensors, enc);
  out->resize(total);
  size_t pos = 0;
  std::memcpy(out->data(), kMagic, 4);
  pos = 4;
  Put<uint16_t>(out, &pos, kCodecFormatVersion);
  Put<uint16_t>(out, &pos, 0);
  Put<uint32_t>(out, &pos, static_cast<uint32_t>(tensors.size()));
  Put<uint32_t>(out, &pos, 0);
  Put<uint64_t>(out, &pos, total - kCodecHeaderBytes - kCodecTrailerBytes);
  BlockHasher hasher(out->data());
  for (const Tensor& t : tensors) {
    Put<uint16_t>(out, &pos, static_cast<uint16_t>(t.name.size()));
    std::memcpy(out->data() + pos, t.name.data(), t.name.size());
    pos += t.name.size();
    Put<uint8_t>(out, &pos, static_cast<uint8_t>(enc));
    Put<uint8_t>(out, &pos, static_cast<uint8_t>(t.shape.size()));
    for (int64_t d : t.shape) Put<uint64_t>(out, &pos, static_cast<uint64_t>(d));
    const size_t n = t.data.size();
    float inv_scale = 0.0f;
    if (enc == Encoding::kInt8) {
      bool nonfinite = false;
      const float max_abs = convert::MaxAbs(t.data.data(), n, &nonfinite);
      if (nonfinite) return NonFiniteOnEncode(t, enc);
      Put<float>(out, &pos, max_abs / 127.0f);
      inv_scale = max_abs > 0 ? 127.0f / max_abs : 0.0f;
    }
    const size_t elem = BytesPerElement(enc);
    const size_t per_block = kBlockBytes / elem;
    bool nonfinite = false;
    for (size_t first = 0; first < n; first += per_block) {
      const size_t m = std::min(per_block, n - first);
      const float* src = t.data.data() + first;
      auto* dst = reinterpret_cast<uint8_t*>(out->data() + pos + first * elem);
      switch (enc) {
        case Encoding::kFp32: nonfinite |= convert::Fp32ToWire(src, dst, m); break;
        case Encoding::kFp16: nonfinite |= convert::Fp32ToFp16(src, dst, m); break;
        case Encoding::kBf16: nonfinite |= convert::Fp32ToBf16(src, dst, m); break;
        case Encoding::kInt8: convert::Fp32ToInt8(src, dst, m, inv_scale); break;
      }
      hasher.HashTo(pos + (first + m) * elem);
    }
    if (nonfinite && !options.allow_nonfinite) return NonFiniteOnEncode(t, enc);
    pos += n * elem;
  }
  hasher.HashTo(total - kCodecTrailerBytes);
  Put<uint64_t>(out, &pos, hasher.Digest());
  return Status();
}

Result<TensorList> DecodeTensors(std::string_view bytes, const DecodeOptions& options) {
  TensorList out;
  MURMUR_RETURN_IF_ERROR(DecodeTensorsInto(bytes, options, &out));
  return out;
}

Status DecodeTensorsInto(std::string_view bytes, const DecodeOptions& options, TensorList* out) {
  std::vector<TensorView> views;
  MURMUR_RETURN_IF_ERROR(ParseStructure(bytes, options, &views));
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t hashed_end = bytes.size() - kCodecTrailerBytes;
  uint64_t expected_sum = 0;
  std::memcpy(&expected_sum, base + hashed_end, 8);

  // Hash and convert block by block so each block is read from cache twice.
  BlockHasher hasher(base);
  const TensorView* first_nonfinite = nullptr;
  out->resize(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const TensorView& v = views[i];
    Tensor& t = (*out)[i];
    t.name.assign(v.name);
    t.shape = v.shape;
    t.data.resize(static_cast<size_t>(v.numel));
    const size_t elem = BytesPerElement(v.encoding);
    const size_t per_block = kBlockBytes / elem;
    const uint8_t* wire = base + v.data_offset;
    bool nonfinite = false;
    for (size_t first = 0; first < static_cast<size_t>(v.numel); first += per_block) {
      const size_t n = std::min(per_block, static_cast<size_t>(v.numel) - first);
      hasher.HashTo(v.data_offset + (first + n) * elem);
      nonfinite |= DecodeRange(wire, v, t.data.data(), first, n);
    }
    if (nonfinite && first_nonfinite == nullptr) first_nonfinite = &v;
  }
  hasher.HashTo(hashed_end);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  expected_sum = hasher.Digest();  // let the fuzzer past the checksum
#endif
  if (hasher.Digest() != expected_sum) {
    return DataLossError("tensor payload checksum mismatch (corrupted in transit or storage)");
  }
  if (first_nonfinite != nullptr && !options.allow_nonfinite) {
    return OutOfRangeError(fmt::format("tensor '{}' contains NaN or Inf values", first_nonfinite->name));
  }
  return Status();
}

}  // namespace murmur
