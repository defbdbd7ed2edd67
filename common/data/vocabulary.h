// Vocabulary: the character set of a char-level text model.
//
// murmur's text datasets are char-level over Unicode CODE POINTS (not bytes):
// one token per code point, so "é" is one token, not two. Id 0 is reserved
// for characters outside the vocabulary (kUnknownId, decoded as U+FFFD); ids
// 1..size()-1 are the known code points in ascending code-point order, so the
// same set of characters always gives the same ids, whatever order the text
// came in.
//
// In federated training every client must use the same vocabulary. Build it
// once from the shared corpus (the simulator loads the whole corpus) and ship
// it to clients as ToUtf8() / FromUtf8(): the known characters in id order.
//
// Threading: immutable after construction; concurrent reads are safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace murmur::data {

class Vocabulary {
 public:
  static constexpr uint32_t kUnknownId = 0;
  static constexpr char32_t kReplacementChar = 0xFFFD;

  Vocabulary() = default;  // only kUnknownId

  // The distinct code points of `text` (any order, duplicates fine).
  static Vocabulary FromCodePoints(std::u32string_view text);
  // Inverse of ToUtf8(): InvalidArgument on bad UTF-8 or duplicates.
  static Result<Vocabulary> FromUtf8(std::string_view chars);

  // Number of ids, including kUnknownId.
  size_t size() const { return chars_.size() + 1; }
  // The known code points in id order (id = index + 1).
  const std::u32string& chars() const { return chars_; }
  std::string ToUtf8() const;

  uint32_t Id(char32_t cp) const {
    if (cp < ascii_.size()) return ascii_[cp];
    auto it = other_.find(cp);
    return it == other_.end() ? kUnknownId : it->second;
  }
  // kReplacementChar for kUnknownId or an id out of range.
  char32_t CodePoint(uint32_t id) const {
    return id == kUnknownId || id > chars_.size() ? kReplacementChar : chars_[id - 1];
  }

  std::vector<uint32_t> Encode(std::u32string_view text) const;
  std::string Decode(std::span<const uint32_t> ids) const;

 private:
  explicit Vocabulary(std::u32string sorted_unique);

  std::u32string chars_;
  std::array<uint32_t, 128> ascii_{};  // 0 = unknown
  std::unordered_map<char32_t, uint32_t> other_;
};

}  // namespace murmur::data
