// Compiles nothing of its own: the target built from this file owns the one
// precompiled LibTorch header that every torch-heavy target reuses
// (cmake/warnings.cmake, murmur_torch_pch).
