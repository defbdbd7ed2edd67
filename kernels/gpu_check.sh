#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and PyTorch: builds libmurmur_kernels.so
# against that PyTorch's LibTorch (CUDA on), then runs the GPU correctness
# checks and the benchmark in kernels/gpu_check.py, printing a short table:
# correctness of fp32, bf16 and fp16 (fp16/bf16 on tensor cores where the GPU
# has them, and again on CUDA cores with MURMUR_CUDA_TENSOR_CORES=0) under
# every target architecture's shared-memory limit, then fwd+bwd time against
# causal SDPA (bf16 at B*T = 65536, H = 16; and bf16/fp16, tensor cores vs
# CUDA cores, at the README's roofline shape B*H = 64, D = 128, T 2048/8192).
# Then (not with --quick) kernels/gpu_train_check.py: the default image model
# trained 300 steps with murmur's op vs causal SDPA, samples/s at batch 32
# (the trainer's default) and 512; with --json X also X.train_b32.json etc.
#   bash kernels/gpu_check.sh [--quick] [--json out.json]
# Needs: cmake, a C++20 compiler, nvcc, python3 with torch (CUDA build); the
# library is built by kernels/gpu_build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
LIB=$(bash kernels/gpu_build.sh | tail -n 1)
echo "== checks and benchmark with $LIB"
# A failed check does not stop the run: the timings and the training
# comparison still come, and the exit status says a check failed.
STATUS=0
python3 kernels/gpu_check.py --lib "$LIB" "$@" || STATUS=$?
QUICK=0; JSON=""; prev=""
for a in "$@"; do
  [[ "$a" == --quick ]] && QUICK=1
  [[ "$prev" == --json ]] && JSON="$a"
  prev="$a"
done
if [[ $QUICK == 0 ]]; then
  for b in 32 512; do
    echo "== training the default model, batch $b: murmur op vs causal SDPA"
    python3 kernels/gpu_train_check.py --lib "$LIB" --batch "$b" \
      ${JSON:+--json "${JSON%.json}.train_b$b.json"} || STATUS=$?
  done
fi
exit $STATUS
