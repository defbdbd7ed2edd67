#include "common/data/gzip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include <sys/stat.h>

#include <fmt/format.h>

namespace murmur::data {
namespace {

gzFile AsGz(void* f) { return static_cast<gzFile>(f); }

}  // namespace

Result<GzipReader> GzipReader::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    std::string why = std::generic_category().message(err);
    if (err == ENOENT || err == ENOTDIR) {
      return NotFoundError(fmt::format("{}: cannot open: {}", path, why));
    }
    if (err == EACCES || err == EPERM) {
      return PermissionDeniedError(fmt::format("{}: cannot open: {}", path, why));
    }
    return InvalidArgumentError(fmt::format("{}: cannot open: {}", path, why));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgumentError(fmt::format("{}: not a regular file", path));
  }
  // Check the gzip magic ourselves: zlib reads non-gzip files "transparently".
  std::FILE* raw = std::fopen(path.c_str(), "rb");
  if (raw == nullptr) {
    return PermissionDeniedError(fmt::format(
        "{}: cannot open: {}", path, std::generic_category().message(errno)));
  }
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, raw);
  std::fclose(raw);
  if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
    return DataLossError(fmt::format(
        "{}: not a gzip file (expected magic 1f 8b, found {})", path,
        got == 0 ? std::string("an empty file")
                 : fmt::format("{:02x}{}", magic[0],
                               got > 1 ? fmt::format(" {:02x}", magic[1]) : "")));
  }
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) {
    return InternalError(fmt::format("{}: zlib could not open the file", path));
  }
  gzbuffer(gz, 1 << 18);  // fewer, larger reads: parsing is inflate-bound
  return GzipReader(path, gz, static_cast<uint64_t>(st.st_size));
}

GzipReader::GzipReader(GzipReader&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)),
      compressed_size_(other.compressed_size_),
      position_(other.position_) {}

GzipReader& GzipReader::operator=(GzipReader&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) gzclose(AsGz(file_));
    path_ = std::move(other.path_);
    file_ = std::exchange(other.file_, nullptr);
    compressed_size_ = other.compressed_size_;
    position_ = other.position_;
  }
  return *this;
}

GzipReader::~GzipReader() {
  if (file_ != nullptr) gzclose(AsGz(file_));
}

uint64_t GzipReader::MaxPlausibleBytes() const {
  return compressed_size_ * kMaxDeflateRatio + 1024;
}

Status GzipReader::StreamError(std::string_view what) const {
  int errnum = Z_OK;
  const char* msg = gzerror(AsGz(file_), &errnum);
  if (errnum == Z_BUF_ERROR) {
    return DataLossError(fmt::format(
        "{}: truncated gzip stream while reading {} (after {} decompressed bytes)",
        path_, what, position_));
  }
  return DataLossError(fmt::format("{}: corrupt gzip stream while reading {}: {}",
                                   path_, what, msg != nullptr ? msg : "unknown error"));
}

Status GzipReader::ReadExact(std::span<uint8_t> out, std::string_view what) {
  size_t done = 0;
  while (done < out.size()) {
    const unsigned chunk =
        static_cast<unsigned>(std::min<size_t>(out.size() - done, 1u << 30));
    const int n = gzread(AsGz(file_), out.data() + done, chunk);
    if (n < 0) return StreamError(what);
    if (n == 0) {
      int errnum = Z_OK;
      gzerror(AsGz(file_), &errnum);
      if (errnum != Z_OK && errnum != Z_BUF_ERROR) return StreamError(what);
      return DataLossError(fmt::format(
          "{}: {}: {} needs {} bytes but only {} are there", path_,
          errnum == Z_BUF_ERROR ? "truncated gzip stream" : "data ends early",
          what, out.size(), done));
    }
    done += static_cast<size_t>(n);
    position_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status GzipReader::ExpectEnd() {
  uint8_t probe[4096];
  const int n = gzread(AsGz(file_), probe, sizeof(probe));
  if (n < 0) return StreamError("the end of the stream");
  if (n > 0) {
    return DataLossError(fmt::format(
        "{}: {}{} unexpected trailing bytes after the {}-byte payload", path_,
        n, static_cast<size_t>(n) == sizeof(probe) ? "+" : "", position_));
  }
  int errnum = Z_OK;
  gzerror(AsGz(file_), &errnum);
  if (errnum != Z_OK) return StreamError("the end of the stream");
  return Status::Ok();
}

}  // namespace murmur::data
