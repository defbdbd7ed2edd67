// CPU threading for LibTorch in murmur binaries.
//
// Debian's LibTorch starts with one intra-op thread and uses OpenBLAS, whose
// own thread pool oversubscribes the cores when torch runs threads too (a
// training step measured ~4x slower; shared/TOOLCHAIN.md). Binaries call
// ConfigureCpuThreads once at start-up: torch gets `threads` intra-op
// threads and OpenBLAS gets one.
//
// Threading: call from the main thread before training starts.
#pragma once

namespace murmur::model {

// `threads` <= 0 means std::thread::hardware_concurrency(). Returns the
// number of torch intra-op threads now in use.
int ConfigureCpuThreads(int threads);

}  // namespace murmur::model
