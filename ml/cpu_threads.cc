#include "ml/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <thread>

namespace murmur::model {

int ConfigureCpuThreads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // OpenBLAS is loaded with LibTorch; its setter is found at run time so
  // murmur does not link against one BLAS in particular.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(1);
  }
  at::set_num_threads(threads);
  return at::get_num_threads();
}

}  // namespace murmur::model
