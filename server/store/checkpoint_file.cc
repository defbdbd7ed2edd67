#include "server/store/checkpoint_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"

namespace murmur::server::store {
namespace {

Status ErrnoError(std::string_view what, const std::string& path, int err) {
  return Status(err == ENOENT ? StatusCode::kNotFound
                : err == ENOSPC ? StatusCode::kResourceExhausted
                                : StatusCode::kInternal,
                fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// Closes the descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir, errno);
  return Status();
}

}  // namespace

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InternalError(fmt::format("cannot create directory {}: {}", dir, ec.message()));
  return Status();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoError("cannot create", tmp, errno);
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot write", tmp, errno);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync", tmp, errno);
    if (::close(fd.release()) != 0) return ErrnoError("cannot close", tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError(fmt::format("cannot rename {} to", tmp), path, errno);
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return FsyncDir(parent.empty() ? std::string(".") : parent.string());
}

Result<std::string> ReadWholeFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path, errno);
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<EncodedCheckpoint> EncodeCheckpoint(const TensorList& model) {
  EncodedCheckpoint c;
  MURMUR_RETURN_IF_ERROR(EncodeTensorsInto(model, {.encoding = Encoding::kFp32}, &c.bytes));
  c.checksum = Xxh3(c.bytes);
  return c;
}

Result<TensorList> ReadCheckpoint(const std::string& path, uint64_t expected_checksum,
                                  const ModelSpec* spec) {
  Result<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) {
    return Status(bytes.status().code(),
                  fmt::format("model checkpoint is unreadable: {}", bytes.status().message()));
  }
  const uint64_t got = Xxh3(*bytes);
  if (got != expected_checksum) {
    return DataLossError(fmt::format(
        "model checkpoint {} is corrupt: its {} bytes hash to {:016x} but the store recorded "
        "{:016x}",
        path, bytes->size(), got, expected_checksum));
  }
  Result<TensorList> model = DecodeTensors(*bytes, {.expected = spec});
  if (!model.ok()) {
    return Status(model.status().code(),
                  fmt::format("model checkpoint {} does not decode: {}", path,
                              model.status().message()));
  }
  return model;
}

}  // namespace murmur::server::store
