#include "server/store/file_ops.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

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

// A few descriptors held open on /dev/null so the store can still open its
// files when the process has run out (EMFILE), e.g. while a flood of idle
// connections holds every other descriptor: the store's writes are what
// must never stop. An open that fails with EMFILE gives one reserved
// descriptor back and tries again; the next open first tries to take it
// back. (gRPC may win a freed slot for an accept; then the write fails as
// before and the engine's store-write retry tries again.)
class DescriptorReserve {
 public:
  static constexpr int kReserved = 4;

  DescriptorReserve() { Refill(); }

  // `open_fn` returns a descriptor or -1 with errno set.
  template <typename OpenFn>
  int Open(OpenFn open_fn) {
    Refill();
    int fd = open_fn();
    while (fd < 0 && errno == EMFILE && Release()) fd = open_fn();
    return fd;
  }

 private:
  void Refill() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int& r : fds_) {
      if (r < 0) r = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  }
  bool Release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int& r : fds_) {
      if (r >= 0) {
        ::close(r);
        r = -1;
        return true;
      }
    }
    return false;
  }

  std::mutex mu_;
  int fds_[kReserved] = {-1, -1, -1, -1};
};

DescriptorReserve& Reserve() {
  static DescriptorReserve* const reserve = new DescriptorReserve();
  return *reserve;
}

// ::open through the reserve.
int OpenFile(const char* path, int flags, mode_t mode = 0) {
  return Reserve().Open([&] { return ::open(path, flags, mode); });
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  const std::string& path() const override { return path_; }
  uint64_t size() const override { return size_; }

  Status Append(std::string_view bytes) override {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot write", path_, errno);
      }
      done += static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return ErrnoError("cannot truncate", path_, errno);
    }
    if (::lseek(fd_.get(), static_cast<off_t>(size), SEEK_SET) < 0) {
      return ErrnoError("cannot seek in", path_, errno);
    }
    size_ = size;
    return Status();
  }

  Status Sync() override {
    if (::fsync(fd_.get()) != 0) return ErrnoError("cannot fsync", path_, errno);
    return Status();
  }

  Status Close() override {
    if (fd_.get() < 0) return Status();
    if (::close(fd_.release()) != 0) return ErrnoError("cannot close", path_, errno);
    return Status();
  }

 private:
  std::string path_;
  Fd fd_;
  uint64_t size_ = 0;
};

class Posix final : public FileOps {
 public:
  Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path) override {
    int fd = OpenFile(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("cannot create", path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool* created) override {
    *created = false;
    int fd = OpenFile(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      fd = OpenFile(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      *created = fd >= 0;
    }
    if (fd < 0) return ErrnoError("cannot open for appending", path, errno);
    Fd owned(fd);
    const off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) return ErrnoError("cannot seek in", path, errno);
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, owned.release(), static_cast<uint64_t>(end)));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError(fmt::format("cannot rename {} to", from), to, errno);
    }
    return Status();
  }

  Status SyncDir(const std::string& dir) override {
    Fd fd(OpenFile(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("cannot open directory", dir, errno);
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir, errno);
    return Status();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("cannot remove", path, errno);
    }
    return Status();
  }

  Status MakeDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return InternalError(fmt::format("cannot create directory {}: {}", dir, ec.message()));
    return Status();
  }

  Result<std::string> ReadFile(const std::string& path) override {
    Fd fd(OpenFile(path.c_str(), O_RDONLY | O_CLOEXEC));
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

  Result<std::string> ReadRange(const std::string& path, uint64_t offset,
                                uint64_t length) override {
    Fd fd(OpenFile(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("cannot open", path, errno);
    std::string out;
    out.resize(static_cast<size_t>(length));
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd.get(), out.data() + done, out.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot read", path, errno);
      }
      if (n == 0) {
        return DataLossError(fmt::format("{} ends at byte {}, before the {} bytes at offset {}",
                                         path, offset + done, length, offset));
      }
      done += static_cast<size_t>(n);
    }
    return out;
  }
};

}  // namespace

FileOps* PosixFileOps() {
  static Posix* const ops = [] {
    (void)Reserve();  // taken now, while descriptors are plentiful
    return new Posix();
  }();
  return ops;
}

}  // namespace murmur::server::store
