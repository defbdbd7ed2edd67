#include "common/codec/tensor_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace murmur {
namespace {

std::string Errno() { return std::strerror(errno); }

Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return UnavailableError(fmt::format("writing {}: {}", path, Errno()));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// fsyncs the directory holding `path` so the rename itself is durable.
void SyncParentDir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Status WriteTensorFile(const std::string& path, const TensorList& tensors, Encoding encoding) {
  EncodeOptions options;
  options.encoding = encoding;
  Result<std::string> bytes = EncodeTensors(tensors, options);
  if (!bytes.ok()) return bytes.status().WithContext(fmt::format("saving tensors to {}", path));

  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    return UnavailableError(fmt::format("cannot create a temporary file next to {}: {}", path,
                                        Errno()));
  }
  Status st = WriteAll(fd, *bytes, tmp);
  if (st.ok() && ::fchmod(fd, 0644) != 0) {
    st = UnavailableError(fmt::format("chmod {}: {}", tmp, Errno()));
  }
  if (st.ok() && ::fsync(fd) != 0) st = UnavailableError(fmt::format("fsync {}: {}", tmp, Errno()));
  if (::close(fd) != 0 && st.ok()) {
    st = UnavailableError(fmt::format("closing {}: {}", tmp, Errno()));
  }
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = UnavailableError(fmt::format("renaming {} to {}: {}", tmp, path, Errno()));
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  SyncParentDir(path);
  return Status::Ok();
}

Result<TensorList> ReadTensorFile(const std::string& path, const ModelSpec* expected) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFoundError(fmt::format("tensor file {} does not exist", path));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgumentError(fmt::format("tensor file {} is a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return UnavailableError(fmt::format("cannot open tensor file {}", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return UnavailableError(fmt::format("error reading tensor file {}", path));
  const std::string bytes = std::move(buffer).str();
  DecodeOptions options;
  options.expected = expected;
  Result<TensorList> tensors = DecodeTensors(bytes, options);
  if (!tensors.ok()) {
    return tensors.status().WithContext(
        fmt::format("tensor file {} ({} bytes)", path, bytes.size()));
  }
  return tensors;
}

}  // namespace murmur
