// Link anchor for the kernel library: code that uses the `murmur` torch ops
// only through the dispatcher calls EnsureRegistered() once so the linker
// keeps libmurmur_kernels.so (whose static initializers register the ops).
#pragma once

namespace murmur::kernels {

int EnsureRegistered();

}  // namespace murmur::kernels
