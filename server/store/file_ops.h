// FileOps: the file operations the store performs on its own files (model
// checkpoints), behind one small interface so tests can record their order
// and inject a failure at any step. SQLite's own database I/O is not behind
// it. The default, PosixFileOps(), calls the POSIX functions directly.
//
// Every error is a Status whose message names the file (or directory) and
// says what failed; ENOENT maps to NOT_FOUND, ENOSPC to RESOURCE_EXHAUSTED,
// anything else to INTERNAL.
//
// Threading: PosixFileOps() is stateless and safe from any thread. A
// WritableFile is used by one thread at a time. Test implementations say
// their own rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace murmur::server::store {

// A file open for writing. Destroying it without Close() closes it and
// ignores errors (the error path of a failed write).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual const std::string& path() const = 0;
  // Bytes in the file: its size when opened plus what Append wrote since.
  virtual uint64_t size() const = 0;
  // Writes all of `bytes` at the end of the file (retries short writes).
  virtual Status Append(std::string_view bytes) = 0;
  // fsync: the data reaches stable storage.
  virtual Status Sync() = 0;
  // Cuts the file back to `size` bytes (undoing a failed append).
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Close() = 0;
};

class FileOps {
 public:
  virtual ~FileOps() = default;
  // Creates `path`, or truncates it when it exists, for writing (mode 0644).
  virtual Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path) = 0;
  // Opens `path` for appending at its end, creating it (mode 0644) when
  // missing; `*created` says which.
  virtual Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                              bool* created) = 0;
  // rename(2): atomically replaces `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync of the directory itself, so a rename in it is durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Removes a file; OK when it does not exist.
  virtual Status Remove(const std::string& path) = 0;
  // Creates the directory and its parents when missing.
  virtual Status MakeDirs(const std::string& dir) = 0;
  // The whole file.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // `length` bytes from `offset`; DATA_LOSS when the file is shorter.
  virtual Result<std::string> ReadRange(const std::string& path, uint64_t offset,
                                        uint64_t length) = 0;
};

// The real file system. Never null; lives for the whole process. Its first
// call sets aside a few descriptors that its opens fall back on when the
// process has none left (EMFILE), so the store can still write its files
// while, say, a flood of connections holds every other descriptor.
FileOps* PosixFileOps();

// `ops` when not null, else PosixFileOps().
inline FileOps* OrPosix(FileOps* ops) { return ops != nullptr ? ops : PosixFileOps(); }

}  // namespace murmur::server::store
