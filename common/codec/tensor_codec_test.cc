#include "common/codec/tensor_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/checksum.h"

namespace murmur {
namespace {

const ModelSpec kSpec = {{"embed.weight", {10, 4}}, {"block0.attn.q", {4, 4}},
                         {"head.bias", {3}}, {"scalar", {}}, {"empty", {0, 5}}};

TensorList Sample(uint64_t seed = 1) {
  Rng rng(seed);
  return RandomNormal(kSpec, rng, 0.5);
}

std::string Encode(const TensorList& t, Encoding e = Encoding::kFp32) {
  Result<std::string> r = EncodeTensors(t, {.encoding = e});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

// Re-seals a hand-edited payload with a correct checksum, so a test reaches
// the structural check it is aimed at.
void Reseal(std::string& bytes) {
  uint64_t sum = Xxh3(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
}

Status Decode(std::string_view bytes, const DecodeOptions& o = {}) {
  return DecodeTensors(bytes, o).status();
}

TEST(TensorCodecTest, Fp32RoundTripIsExact) {
  TensorList t = Sample();
  std::string bytes = Encode(t);
  EXPECT_EQ(bytes.size(), EncodedSize(t, Encoding::kFp32));
  Result<TensorList> back = DecodeTensors(bytes, {.expected = &kSpec});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ((*back)[i].name, t[i].name);
    EXPECT_EQ((*back)[i].shape, t[i].shape);
    EXPECT_EQ((*back)[i].data, t[i].data);
  }
}

TEST(TensorCodecTest, LossyEncodingsStayWithinTheirPrecision) {
  TensorList t = Sample(2);
  struct Case { Encoding e; double rel_tol; };
  for (Case c : {Case{Encoding::kFp16, 1e-3}, Case{Encoding::kBf16, 8e-3},
                 Case{Encoding::kInt8, 2e-2}}) {
    std::string bytes = Encode(t, c.e);
    EXPECT_LT(bytes.size(), EncodedSize(t, Encoding::kFp32));
    Result<TensorList> back = DecodeTensors(bytes, {.expected = &kSpec});
    ASSERT_TRUE(back.ok()) << EncodingName(c.e) << ": " << back.status().ToString();
    for (size_t i = 0; i < t.size(); ++i) {
      double err = 0, norm = 0;
      for (size_t j = 0; j < t[i].data.size(); ++j) {
        err += std::pow((*back)[i].data[j] - t[i].data[j], 2);
        norm += std::pow(t[i].data[j], 2);
      }
      if (norm > 0) {
        EXPECT_LE(std::sqrt(err / norm), c.rel_tol) << EncodingName(c.e) << " " << t[i].name;
      }
    }
  }
}

TEST(TensorCodecTest, DecodeIntoReusesBuffers) {
  TensorList scratch;
  ASSERT_TRUE(DecodeTensorsInto(Encode(Sample(3)), {}, &scratch).ok());
  const float* data0 = scratch[0].data.data();
  TensorList next = Sample(4);
  ASSERT_TRUE(DecodeTensorsInto(Encode(next), {}, &scratch).ok());
  EXPECT_EQ(scratch[0].data.data(), data0);
  EXPECT_EQ(scratch[0].data, next[0].data);
}

// int8 stores scale = max|x| / 127 and q = round(x / scale) in [-127, 127],
// so the largest-magnitude element is q = +-127 and decodes to 127 * scale:
// exactly +-max whenever float arithmetic can represent it (fl(127 *
// fl(max / 127)) == max, true for ~99% of floats; for the rest no float
// scale gives back max, and it lands on a neighbouring float). Every other
// element decodes within half a quantization step, scale / 2 (plus float
// rounding). A scale of max/128 fails both (the maximum comes back as
// 127/128 of itself).
TEST(TensorCodecTest, Int8RoundTripKeepsTheMaximumAndHalfAStep) {
  Rng rng(7);
  size_t exact_checked = 0, tensors = 0;
  for (int round = 0; round < 40; ++round) {
    // Scales from 1e-6 to 1e6; every other tensor has a negative maximum.
    const double stddev = std::pow(10.0, -6 + (round % 13));
    TensorList t = RandomNormal({{"a", {257}}, {"b", {3, 5}}, {"one", {1}}}, rng, stddev);
    for (Tensor& x : t) {
      size_t arg = 0;
      for (size_t j = 0; j < x.data.size(); ++j) {
        if (std::fabs(x.data[j]) > std::fabs(x.data[arg])) arg = j;
      }
      if ((round % 2 == 1) != (x.data[arg] < 0)) {
        for (float& v : x.data) v = -v;
      }
    }
    Result<TensorList> back = DecodeTensors(Encode(t, Encoding::kInt8));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    for (size_t i = 0; i < t.size(); ++i) {
      const std::vector<float>& x = t[i].data;
      const std::vector<float>& y = (*back)[i].data;
      ASSERT_EQ(x.size(), y.size());
      size_t arg = 0;
      for (size_t j = 0; j < x.size(); ++j) {
        if (std::fabs(x[j]) > std::fabs(x[arg])) arg = j;
      }
      const float max = std::fabs(x[arg]);
      ASSERT_GT(max, 0.0f);
      const float scale = max / 127.0f;
      ++tensors;
      if (127.0f * scale == max) {
        EXPECT_EQ(y[arg], x[arg]) << "round " << round << " " << t[i].name << " max " << max;
        ++exact_checked;
      } else {
        // Not representable: the nearest the format can do, within a float step.
        EXPECT_LE(std::fabs(y[arg] - x[arg]), 2 * std::numeric_limits<float>::epsilon() * max)
            << "round " << round << " " << t[i].name << " max " << max;
      }
      const double half_step = 0.5 * static_cast<double>(max) / 127.0;
      const double slack = 4.0 * std::numeric_limits<float>::epsilon() * max;
      for (size_t j = 0; j < x.size(); ++j) {
        EXPECT_LE(std::fabs(static_cast<double>(y[j]) - x[j]), half_step + slack)
            << "round " << round << " " << t[i].name << "[" << j << "] = " << x[j];
      }
    }
  }
  // The exact check must not be vacuous.
  EXPECT_GE(exact_checked, tensors * 9 / 10) << exact_checked << " of " << tensors;
}

TEST(TensorCodecTest, AllZeroInt8TensorRoundTrips) {
  TensorList t = {{"z", {3}, {0.0f, 0.0f, -0.0f}}};
  Result<TensorList> back = DecodeTensors(Encode(t, Encoding::kInt8));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].data, (std::vector<float>{0, 0, 0}));
}

TEST(TensorCodecTest, EveryTruncationIsRejected) {
  std::string bytes = Encode(Sample());
  for (size_t len = 0; len < bytes.size(); ++len) {
    Status s = Decode(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(s.ok()) << "length " << len;
    ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  }
  Status s = Decode(std::string_view(bytes).substr(0, bytes.size() - 20));
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();
}

TEST(TensorCodecTest, EveryBitFlipIsRejected) {
  std::string bytes = Encode(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x04;
    ASSERT_FALSE(Decode(bad).ok()) << "byte " << i;
  }
}

TEST(TensorCodecTest, ChecksumMismatchIsDataLoss) {
  std::string bytes = Encode(Sample());
  bytes[bytes.size() - 30] ^= 0x01;  // inside the last tensor's values
  Status s = Decode(bytes);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("checksum"), std::string::npos);
}

TEST(TensorCodecTest, BadMagicAndVersion) {
  std::string bytes = Encode(Sample());
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(Decode(bad).message().find("magic"), std::string::npos);
  bad = bytes;
  bad[4] = 9;
  Reseal(bad);
  Status s = Decode(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("version 9"), std::string::npos) << s.message();
}

TEST(TensorCodecTest, ShapeAndNameMismatchAgainstTheModel) {
  TensorList t = Sample();
  ModelSpec other = kSpec;
  other[1].shape = {4, 5};
  Status s = Decode(Encode(t), {.expected = &other});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("block0.attn.q"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[4, 5]"), std::string::npos) << s.message();

  other = kSpec;
  other[2].name = "head.weight";
  s = Decode(Encode(t), {.expected = &other});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("head.weight"), std::string::npos);

  other = kSpec;
  other.pop_back();
  s = Decode(Encode(t), {.expected = &other});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST(TensorCodecTest, NonFiniteRejectedUnlessAllowed) {
  TensorList t = Sample();
  t[1].data[3] = std::numeric_limits<float>::quiet_NaN();
  Result<std::string> enc = EncodeTensors(t);
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(enc.status().message().find("block0.attn.q"), std::string::npos);

  std::string bytes = *EncodeTensors(t, {.allow_nonfinite = true});
  Status s = Decode(bytes);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("block0.attn.q"), std::string::npos);
  EXPECT_TRUE(Decode(bytes, {.allow_nonfinite = true}).ok());

  // fp16 and bf16 carry infinities too.
  t[1].data[3] = std::numeric_limits<float>::infinity();
  for (Encoding e : {Encoding::kFp16, Encoding::kBf16}) {
    bytes = *EncodeTensors(t, {.encoding = e, .allow_nonfinite = true});
    EXPECT_EQ(Decode(bytes).code(), StatusCode::kOutOfRange) << EncodingName(e);
  }
  EXPECT_FALSE(EncodeTensors(t, {.encoding = Encoding::kInt8, .allow_nonfinite = true}).ok());
}

TEST(TensorCodecTest, Fp16OverflowIsAnEncodeError) {
  TensorList t = {{"big", {2}, {1.0f, 1e6f}}};
  Result<std::string> r = EncodeTensors(t, {.encoding = Encoding::kFp16});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("65504"), std::string::npos);
}

TEST(TensorCodecTest, LimitsAreEnforced) {
  std::string bytes = Encode(Sample());
  Status s = Decode(bytes, {.max_bytes = 100});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  s = Decode(bytes, {.max_tensors = 2});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
}

TEST(TensorCodecTest, HugeClaimedShapeDoesNotAllocate) {
  // One tensor claiming 2^40 x 2^40 elements in a tiny payload.
  TensorList t = {{"w", {1, 1}, {1.0f}}};
  std::string bytes = Encode(t);
  const size_t dims_at = kCodecHeaderBytes + 2 + 1 + 2;
  uint64_t huge = uint64_t{1} << 40;
  std::memcpy(bytes.data() + dims_at, &huge, 8);
  std::memcpy(bytes.data() + dims_at + 8, &huge, 8);
  Reseal(bytes);
  Status s = Decode(bytes);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("larger than the payload"), std::string::npos) << s.message();
}

TEST(TensorCodecTest, HugeTensorCountIsRejectedCheaply) {
  std::string bytes = Encode(Sample());
  uint32_t count = 0xffffffffu;
  std::memcpy(bytes.data() + 8, &count, 4);
  Reseal(bytes);
  EXPECT_FALSE(Decode(bytes).ok());
}

// Found by the fuzzer: an int8 scale near FLT_MAX decoded to Inf values
// that slipped past the finiteness check.
TEST(TensorCodecTest, Int8ScaleThatWouldOverflowIsRejected) {
  TensorList t = {{"w", {2}, {1.0f, -1.0f}}};
  std::string bytes = Encode(t, Encoding::kInt8);
  const size_t scale_at = kCodecHeaderBytes + 2 + 1 + 2 + 8;
  float huge = 6.5e36f;
  std::memcpy(bytes.data() + scale_at, &huge, 4);
  Reseal(bytes);
  Status s = Decode(bytes);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("int8 scale"), std::string::npos) << s.message();
}

TEST(TensorCodecTest, DuplicateNamesRejected) {
  TensorList t = {{"w", {1}, {1.0f}}, {"w", {1}, {2.0f}}};
  EXPECT_FALSE(EncodeTensors(t).ok());
  // Hand-made payload with duplicates: rename the second tensor.
  TensorList u = {{"a", {1}, {1.0f}}, {"b", {1}, {2.0f}}};
  std::string bytes = Encode(u);
  size_t second_name = bytes.find('b', kCodecHeaderBytes);
  bytes[second_name] = 'a';
  Reseal(bytes);
  Status s = Decode(bytes);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("duplicate"), std::string::npos);
}

TEST(TensorCodecTest, TrailingBytesRejected) {
  std::string bytes = Encode(Sample());
  // Grow the body by 3 bytes of junk and fix the header's body size.
  bytes.insert(bytes.size() - 8, "abc");
  uint64_t body = bytes.size() - kCodecHeaderBytes - kCodecTrailerBytes;
  std::memcpy(bytes.data() + 16, &body, 8);
  Reseal(bytes);
  Status s = Decode(bytes);
  EXPECT_NE(s.message().find("unexpected bytes"), std::string::npos) << s.message();
}

TEST(TensorCodecTest, EncoderRejectsInconsistentTensors) {
  EXPECT_FALSE(EncodeTensors({{"w", {2, 2}, {1, 2, 3}}}).ok());
  EXPECT_FALSE(EncodeTensors({{"", {1}, {1}}}).ok());
  EXPECT_FALSE(EncodeTensors({{"w", {-1}, {}}}).ok());
  EXPECT_FALSE(EncodeTensors({{"w", Shape(9, 1), {1}}}).ok());
}

TEST(TensorCodecTest, EncodingNames) {
  EXPECT_EQ(*ParseEncoding("bf16"), Encoding::kBf16);
  EXPECT_EQ(EncodingName(Encoding::kInt8), "int8");
  EXPECT_FALSE(ParseEncoding("fp8").ok());
}

// Found by the fuzzer: a zero-sized tensor with huge other dims decoded
// fine, then overflowed when its element count was recomputed.
TEST(TensorSpecTest, NumElementsOfHugeEmptyShapeIsZero) {
  EXPECT_EQ(NumElements({int64_t{1} << 47, int64_t{1} << 46, 0}), 0);
  EXPECT_EQ(NumElements({int64_t{1} << 47, int64_t{1} << 46}), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(NumElements({}), 1);
  TensorList t = {{"e", {int64_t{1} << 47, int64_t{1} << 46, 0}, {}}};
  Result<TensorList> back = DecodeTensors(Encode(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)[0].numel(), 0);
}

TEST(TensorSpecTest, CheckMatchesSpec) {
  TensorList t = Sample();
  EXPECT_TRUE(CheckMatchesSpec(t, kSpec).ok());
  t[0].data.pop_back();
  EXPECT_NE(CheckMatchesSpec(t, kSpec).message().find("embed.weight"), std::string::npos);
  EXPECT_EQ(TotalElements(Sample()), 40 + 16 + 3 + 1 + 0);
}

}  // namespace
}  // namespace murmur
