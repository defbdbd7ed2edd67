// Tests for strict UTF-8 decoding/encoding and the Vocabulary.
#include "common/data/utf8.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/data/vocabulary.h"

namespace murmur::data {
namespace {

TEST(Utf8Test, DecodesAllSequenceLengths) {
  Result<std::u32string> r = DecodeUtf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");  // aé€😀
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::u32string{U'a', 0xE9, 0x20AC, 0x1F600}));
  EXPECT_TRUE(DecodeUtf8("")->empty());
}

TEST(Utf8Test, RoundTripsScalarValues) {
  std::u32string all;
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += 97) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    all.push_back(cp);
  }
  all += U"\U0010FFFF\uD7FF\uE000\u07FF\u0800\uFFFF\U00010000";
  Result<std::u32string> back = DecodeUtf8(EncodeUtf8(all));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, all);
}

TEST(Utf8Test, EncodesInvalidScalarsAsReplacement) {
  EXPECT_EQ(EncodeUtf8(std::u32string{0xD800}), "\xEF\xBF\xBD");
  EXPECT_EQ(EncodeUtf8(std::u32string{0x110000}), "\xEF\xBF\xBD");
}

struct BadCase {
  std::string text;
  size_t offset;
  std::string reason;
};

TEST(Utf8Test, RejectsMalformedInputWithTheByteOffset) {
  const std::vector<BadCase> cases = {
      {"ab\x80", 2, "unexpected continuation byte 0x80"},
      {"\xC0\xAF", 0, "overlong"},
      {"x\xE0\x80\x80", 1, "overlong 3-byte"},
      {"xy\xF0\x80\x80\x80", 2, "overlong 4-byte"},
      {"\xED\xA0\x80", 0, "surrogate"},
      {"abc\xF4\x90\x80\x80", 3, "above U+10FFFF"},
      {"\xF5\x80\x80\x80", 0, "0xf5 never appears"},
      {"ok\xFF", 2, "0xff never appears"},
      {"ok \xE2\x82", 3, "truncated 3-byte"},
      {"\xE2\x28\xA1", 0, "cut short by byte 0x28"},
      {"\xF0\x9F\x98", 0, "truncated 4-byte"},
  };
  for (const BadCase& c : cases) {
    Result<std::u32string> r = DecodeUtf8(c.text);
    ASSERT_FALSE(r.ok()) << "accepted case with reason " << c.reason;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find("byte offset " + std::to_string(c.offset) + " "), std::string::npos)
        << msg;
    EXPECT_NE(msg.find(c.reason), std::string::npos) << msg;
    EXPECT_EQ(ValidateUtf8(c.text), r.status());
  }
}

TEST(Utf8Test, ReportsTheLine) {
  Status s = ValidateUtf8("one\ntwo\nthr\xFF");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("byte offset 11 (line 3)"), std::string::npos) << s.message();
}

TEST(VocabularyTest, IdsFollowCodePointOrder) {
  Vocabulary v = Vocabulary::FromCodePoints(U"hello, wörld");
  // Known: ' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö' plus unknown.
  EXPECT_EQ(v.size(), 11u);
  EXPECT_EQ(v.Id(U' '), 1u);
  EXPECT_EQ(v.Id(U'ö'), 10u);
  EXPECT_EQ(v.Id(U'z'), Vocabulary::kUnknownId);
  EXPECT_EQ(v.Id(0x4E2D), Vocabulary::kUnknownId);
  EXPECT_EQ(v.CodePoint(Vocabulary::kUnknownId), Vocabulary::kReplacementChar);
  EXPECT_EQ(v.CodePoint(999), Vocabulary::kReplacementChar);
  std::vector<uint32_t> ids = v.Encode(U"held?");
  EXPECT_EQ(v.Decode(ids), "held\xEF\xBF\xBD");
  // The same characters in another order give the same vocabulary.
  EXPECT_EQ(Vocabulary::FromCodePoints(U"wörld ,hello").chars(), v.chars());
}

TEST(VocabularyTest, SerializesAsUtf8) {
  Vocabulary v = Vocabulary::FromCodePoints(U"zaé€");
  Result<Vocabulary> back = Vocabulary::FromUtf8(v.ToUtf8());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->chars(), v.chars());
  EXPECT_EQ(back->Id(U'€'), v.Id(U'€'));
  EXPECT_FALSE(Vocabulary::FromUtf8("aa").ok());
  EXPECT_FALSE(Vocabulary::FromUtf8("a\xFF").ok());
  EXPECT_EQ(Vocabulary().size(), 1u);
}

}  // namespace
}  // namespace murmur::data
