"""Builds libmurmur_kernels.so with torch.utils.cpp_extension (ninja) from the
same sources and flags as kernels/CMakeLists.txt, and prints its path.

gpu_check.sh's fallback when CMake cannot configure against a PyTorch's
LibTorch (its CMake package files vary between releases: nvtx, CUDA
toolkit discovery). cpp_extension takes include paths, the C++ ABI flag and
the CUDA libraries from the running torch itself.

  python3 kernels/gpu_build_ext.py --arch 90 [--build-dir build-gpu-ext] [--cpu-only]
--cpu-only leaves the CUDA source out (a test of this script without a GPU).
"""
import argparse
import os
import sys

import torch
from torch.utils import cpp_extension

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_SOURCES = ["cpu/micro_gemm.cc", "cpu/linear_attn_cpu.cc", "cuda/launch_plan.cc",
               "cuda/arch_limits.cc", "ops/registration.cc", "ops/linear_attn_autograd.cc",
               "ops/chunk_linear_attn_binding.cc", "ops/chunk_gla_binding.cc"]
CUDA_SOURCES = ["cuda/linear_attn_cuda.cu"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-gpu-ext"))
    ap.add_argument("--cpu-only", action="store_true")
    args = ap.parse_args()
    cuda = not args.cpu_only
    arch = args.arch
    if cuda and not arch:
        major, minor = torch.cuda.get_device_capability()
        arch = f"{major}{minor}"
    sources = [os.path.join(ROOT, "kernels", s) for s in CPU_SOURCES + (CUDA_SOURCES if cuda else [])]
    defines = ["-DMURMUR_WITH_CUDA", "-DMURMUR_TORCH_CUDA"] if cuda else []
    os.makedirs(args.build_dir, exist_ok=True)
    # cpp_extension adds -std=c++17 first; the later -std=c++20 wins (murmur's
    # host code is C++20, its CUDA code C++17 as in CMake).
    cpp_extension.load(
        name="murmur_kernels",
        sources=sources,
        extra_include_paths=[ROOT],
        extra_cflags=["-O3", "-std=c++20", "-fopenmp", "-Wno-psabi"] + defines,
        extra_cuda_cflags=["-O3", "--use_fast_math", "-lineinfo", "-std=c++17",
                           f"-gencode=arch=compute_{arch},code=sm_{arch}"] if cuda else None,
        extra_ldflags=["-fopenmp"],
        build_directory=args.build_dir,
        with_cuda=cuda,
        is_python_module=False,
        verbose=False,
    )
    lib = os.path.join(args.build_dir, "murmur_kernels.so")
    if not os.path.exists(lib):
        sys.exit(f"gpu_build_ext: {lib} was not produced")
    print(lib)


if __name__ == "__main__":
    main()
