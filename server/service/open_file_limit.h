// Raising the process's open-file limit: a coordinator holds one descriptor
// per client connection plus its SQLite and checkpoint files, and the common
// soft limit of 1024 is reached by ~1000 idle connections (then a checkpoint
// write fails with EMFILE). At start the soft RLIMIT_NOFILE is raised to the
// hard limit.
//
// Process-wide; call once at start, before threads open descriptors.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace murmur::server {

struct OpenFileLimit {
  uint64_t soft_before = 0;  // RLIM_INFINITY is reported as UINT64_MAX
  uint64_t soft_after = 0;
  uint64_t hard = 0;
};

// Sets the soft RLIMIT_NOFILE to the hard limit (when the hard limit is
// unlimited, to the kernel's nr_open ceiling, /proc/sys/fs/nr_open, or
// leaves it when that cannot be read). Returns the limits before and after;
// an error naming the system call when getrlimit/setrlimit fails.
Result<OpenFileLimit> RaiseOpenFileLimit();

}  // namespace murmur::server
