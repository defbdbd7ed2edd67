#!/usr/bin/env bash
# Registers, local-memory stack frames and spills of every CUDA kernel, as
# ptxas reports them for one architecture: no GPU needed, only nvcc.
#   kernels/ptxas_report.sh [arch, default 90] [grep -E pattern on the kernel names]
# A fragment array indexed by a loop that is not unrolled shows up as a
# stack frame (local memory) here long before it shows up in a profile.
# Expected frames: 24 bytes (output, dv) and 48 (dq/dk) on tensor cores
# hold the arguments of their L2-prefetch call (PrefetchSplitRows, written
# once per block); more than that is something else.
set -euo pipefail
arch=${1:-90}
pattern=${2:-.}
root=$(cd "$(dirname "$0")/.." && pwd)
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$nvcc" -O2 -DNDEBUG "--generate-code=arch=compute_$arch,code=[sm_$arch]" --use_fast_math \
  -std=c++17 -I"$root" -Xptxas -v -c "$root/kernels/cuda/linear_attn_cuda.cu" -o "$out/k.o" 2>&1 |
  c++filt |
  awk '/Compiling entry function/ {name = $0; sub(/.*function .void /, "", name); sub(/\(murmur::kernels::LinearAttn.*|\(murmur::kernels::\(anonymous namespace\)::Dims.*/, "", name)}
       /bytes stack frame/ {frame = $0; sub(/.*: +/, "", frame)}
       /Used [0-9]+ registers/ {regs = $0; sub(/.*Used /, "", regs); sub(/,.*/, "", regs); print name " | " regs " | " frame}' |
  sed -E 's/murmur::kernels::\(anonymous namespace\):://g; s/\(murmur::kernels::GateKind\)/gate /g' |
  grep -E -- "$pattern" | sort
