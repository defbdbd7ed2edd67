// Strict UTF-8 decoding and encoding for the text datasets.
//
// Decoding follows RFC 3629 / Unicode's "well-formed" table: overlong forms,
// surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray continuation
// bytes and truncated sequences are all errors, reported with the byte offset
// (0-based, of the first byte of the bad sequence) and the 1-based line, so a
// user can find the spot with `xxd -s OFFSET`.
//
// Threading: plain functions; safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace murmur::data {

// The code points of `text`, or InvalidArgument
// "invalid UTF-8 at byte offset N (line L): <reason>".
Result<std::u32string> DecodeUtf8(std::string_view text);

// OK when `text` is well-formed UTF-8; the same error as DecodeUtf8 otherwise.
Status ValidateUtf8(std::string_view text);

// Appends the UTF-8 form of `cp` (which must be a Unicode scalar value;
// anything else is written as U+FFFD).
void AppendUtf8(char32_t cp, std::string& out);
std::string EncodeUtf8(std::u32string_view text);

}  // namespace murmur::data
