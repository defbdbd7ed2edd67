#include "common/data/vocabulary.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/data/utf8.h"

namespace murmur::data {

Vocabulary::Vocabulary(std::u32string sorted_unique) : chars_(std::move(sorted_unique)) {
  for (size_t i = 0; i < chars_.size(); ++i) {
    const auto id = static_cast<uint32_t>(i + 1);
    if (chars_[i] < ascii_.size()) {
      ascii_[chars_[i]] = id;
    } else {
      other_.emplace(chars_[i], id);
    }
  }
}

Vocabulary Vocabulary::FromCodePoints(std::u32string_view text) {
  std::array<bool, 128> ascii{};
  std::u32string rest;
  for (char32_t cp : text) {
    if (cp < ascii.size()) {
      ascii[cp] = true;
    } else {
      rest.push_back(cp);
    }
  }
  std::sort(rest.begin(), rest.end());
  rest.erase(std::unique(rest.begin(), rest.end()), rest.end());
  std::u32string chars;
  for (char32_t c = 0; c < ascii.size(); ++c) {
    if (ascii[c]) chars.push_back(c);
  }
  chars += rest;
  return Vocabulary(std::move(chars));
}

Result<Vocabulary> Vocabulary::FromUtf8(std::string_view chars) {
  Result<std::u32string> decoded = DecodeUtf8(chars);
  if (!decoded.ok()) return decoded.status().WithContext("vocabulary");
  std::u32string sorted = *decoded;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return InvalidArgumentError("vocabulary: a character appears twice");
  }
  return Vocabulary(std::move(sorted));
}

std::string Vocabulary::ToUtf8() const { return EncodeUtf8(chars_); }

std::vector<uint32_t> Vocabulary::Encode(std::u32string_view text) const {
  std::vector<uint32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = Id(text[i]);
  return ids;
}

std::string Vocabulary::Decode(std::span<const uint32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (uint32_t id : ids) AppendUtf8(CodePoint(id), out);
  return out;
}

}  // namespace murmur::data
