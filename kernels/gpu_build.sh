#!/usr/bin/env bash
# Builds libmurmur_kernels.so against the python3 PyTorch's LibTorch (CUDA
# on) for this machine's GPU and prints its path on the last line. CMake
# first; when CMake cannot configure against that torch, the same sources
# through torch.utils.cpp_extension (kernels/gpu_build_ext.py).
#   bash kernels/gpu_build.sh     (CUDA_ARCH=90 and BUILD_DIR=... override)
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
ARCH=${CUDA_ARCH:-$(python3 -c 'import torch; m,n=torch.cuda.get_device_capability(); print(f"{m}{n}")')}
BUILD=${BUILD_DIR:-build-gpu}
echo "== building libmurmur_kernels.so against ${TORCH_PREFIX} (sm_${ARCH})" >&2
mkdir -p "$BUILD"
if cmake -S . -B "$BUILD" -DMURMUR_KERNELS_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
     -DMURMUR_WERROR=OFF -DMURMUR_PCH=OFF >"$BUILD/configure.log" 2>&1 &&
   cmake --build "$BUILD" -j "$(nproc)" --target murmur_kernels >"$BUILD/build.log" 2>&1; then
  find "$BUILD" -name 'libmurmur_kernels.so' | head -n 1
else
  echo "== CMake build failed; the last lines of $BUILD/configure.log and $BUILD/build.log:" >&2
  tail -n 20 "$BUILD/configure.log" "$BUILD/build.log" >&2 || true
  echo "== building with torch.utils.cpp_extension instead (kernels/gpu_build_ext.py)" >&2
  python3 kernels/gpu_build_ext.py --arch "$ARCH" --build-dir "$BUILD-ext" | tail -n 1
fi
