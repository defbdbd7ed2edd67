#include "server/service/open_file_limit.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace murmur::server {
namespace {

uint64_t Report(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

// The kernel's per-process ceiling for RLIMIT_NOFILE; 0 when unknown.
rlim_t KernelNrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long v = 0;
  if (in >> v) return static_cast<rlim_t>(v);
  return 0;
}

}  // namespace

Result<OpenFileLimit> RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return InternalError(fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
  }
  OpenFileLimit out{.soft_before = Report(lim.rlim_cur),
                    .soft_after = Report(lim.rlim_cur),
                    .hard = Report(lim.rlim_max)};
  rlim_t target = lim.rlim_max;
  if (target == RLIM_INFINITY) {
    const rlim_t nr_open = KernelNrOpen();
    target = nr_open > 0 ? nr_open : lim.rlim_cur;
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < target) {
    lim.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return InternalError(fmt::format("setrlimit(RLIMIT_NOFILE, soft={}): {}",
                                       static_cast<unsigned long long>(target),
                                       std::strerror(errno)));
    }
    out.soft_after = Report(target);
  }
  return out;
}

}  // namespace murmur::server
