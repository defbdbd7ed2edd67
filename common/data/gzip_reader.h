// GzipReader: reads a gzip-compressed file front to back, with errors that
// name the file.
//
// The data loaders use it to parse .gz files without first inflating them to
// disk. It refuses files that are not gzip (zlib would otherwise pass them
// through unchanged), reports a truncated or corrupt stream (including a CRC
// mismatch, which zlib only detects at the end of the stream, so call
// ExpectEnd() after the last read) and knows the compressed size, so callers
// can reject a header that claims more data than the file could possibly
// hold before they allocate for it.
//
// Threading: a GzipReader is not synchronized; use one per thread. It is
// movable, not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace murmur::data {

class GzipReader {
 public:
  // Deflate cannot compress better than about 1032:1; a header that claims
  // more than this many bytes per compressed byte is lying.
  static constexpr uint64_t kMaxDeflateRatio = 1032;

  // NotFound when the file is missing, InvalidArgument when it is not a
  // regular file, DataLoss when it does not start with the gzip magic.
  static Result<GzipReader> Open(const std::string& path);

  GzipReader(GzipReader&& other) noexcept;
  GzipReader& operator=(GzipReader&& other) noexcept;
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;
  ~GzipReader();

  // Fills `out` completely or fails with DataLoss naming the path, `what`
  // (e.g. "image data") and how many bytes were missing.
  Status ReadExact(std::span<uint8_t> out, std::string_view what);

  // OK when the decompressed stream ends here and its trailer (CRC, length)
  // checks out; DataLoss on trailing bytes or a corrupt tail.
  Status ExpectEnd();

  // The most decompressed bytes this file could hold (compressed size times
  // kMaxDeflateRatio, plus slack for tiny files).
  uint64_t MaxPlausibleBytes() const;

  const std::string& path() const { return path_; }
  uint64_t compressed_size() const { return compressed_size_; }
  // Decompressed bytes consumed so far.
  uint64_t position() const { return position_; }

 private:
  GzipReader(std::string path, void* file, uint64_t compressed_size)
      : path_(std::move(path)), file_(file), compressed_size_(compressed_size) {}
  Status StreamError(std::string_view what) const;

  std::string path_;
  void* file_ = nullptr;  // gzFile; kept opaque so zlib.h stays out of headers
  uint64_t compressed_size_ = 0;
  uint64_t position_ = 0;
};

}  // namespace murmur::data
