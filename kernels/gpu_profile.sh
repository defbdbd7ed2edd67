#!/usr/bin/env bash
# Nsight Compute on the chunk kernels (one launch each of the third call of
# kernels/gpu_profile.py): speed of light, occupancy, launch statistics,
# warp stall reasons, memory workload. Clocks left as they are.
#   bash kernels/gpu_profile.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-gpu}
LIB=$(bash kernels/gpu_build.sh | tail -n 1)
for k in ChunkGradQK ChunkGradV ChunkOutput ChunkStateWalk; do
  ncu --clock-control none --kernel-name "regex:$k" --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section WarpStateStats --section MemoryWorkloadAnalysis \
    python3 kernels/gpu_profile.py --lib "$LIB" > "$OUT/ncu_$k.txt" 2>&1 || true
  echo "== $k"
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit|Dynamic Shared|Stall|L1/TEX Hit|L2 Hit|Warp Cycles Per Issued" "$OUT/ncu_$k.txt" | head -30
done
