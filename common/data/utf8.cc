#include "common/data/utf8.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

namespace murmur::data {
namespace {

struct DecodeError {
  size_t offset = 0;
  std::string reason;
};

// Decodes one sequence starting at text[i] (not ASCII). On success stores the
// code point and its length; otherwise fills `err`.
bool DecodeOne(std::string_view text, size_t i, char32_t& cp, size_t& len,
               DecodeError& err) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  const uint8_t lead = b(0);
  err.offset = i;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0x80 && lead <= 0xBF) {
    err.reason = fmt::format("unexpected continuation byte 0x{:02x}", lead);
    return false;
  } else if (lead == 0xC0 || lead == 0xC1) {
    err.reason = fmt::format("overlong 2-byte sequence (lead byte 0x{:02x})", lead);
    return false;
  } else if (lead <= 0xDF) {
    len = 2;
    cp = lead & 0x1F;
  } else if (lead <= 0xEF) {
    len = 3;
    cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead <= 0xF4) {
    len = 4;
    cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    err.reason = fmt::format("byte 0x{:02x} never appears in UTF-8", lead);
    return false;
  }
  if (i + len > text.size()) {
    err.reason = fmt::format("truncated {}-byte sequence at the end of the text (lead byte 0x{:02x})",
                             len, lead);
    return false;
  }
  for (size_t k = 1; k < len; ++k) {
    const uint8_t c = b(k);
    const uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) {
      if (c >= 0x80 && c <= 0xBF) {
        err.reason = lead == 0xED ? "encoded surrogate (U+D800..U+DFFF)"
                     : lead == 0xF4 ? "code point above U+10FFFF"
                                    : fmt::format("overlong {}-byte sequence", len);
      } else {
        err.reason = fmt::format("{}-byte sequence (lead byte 0x{:02x}) cut short by byte 0x{:02x}",
                                 len, lead, c);
      }
      return false;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  return true;
}

Status ErrorAt(std::string_view text, const DecodeError& err) {
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(),
                                                         text.begin() + static_cast<std::ptrdiff_t>(err.offset), '\n'));
  return InvalidArgumentError(
      fmt::format("invalid UTF-8 at byte offset {} (line {}): {}", err.offset, line, err.reason));
}

template <typename Sink>
Status Walk(std::string_view text, Sink&& sink) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      sink(static_cast<char32_t>(c));
      ++i;
      continue;
    }
    char32_t cp = 0;
    size_t len = 0;
    DecodeError err;
    if (!DecodeOne(text, i, cp, len, err)) return ErrorAt(text, err);
    sink(cp);
    i += len;
  }
  return Status::Ok();
}

}  // namespace

Result<std::u32string> DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  MURMUR_RETURN_IF_ERROR(Walk(text, [&](char32_t cp) { out.push_back(cp); }));
  return out;
}

Status ValidateUtf8(std::string_view text) {
  return Walk(text, [](char32_t) {});
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) AppendUtf8(cp, out);
  return out;
}

}  // namespace murmur::data
