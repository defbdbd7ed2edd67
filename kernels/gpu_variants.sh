#!/usr/bin/env bash
# Several versions of the CUDA kernels measured in one device call, so a
# session with a GPU learns what each change made since the last
# measurement did (METHOD: predict, change, measure, look back) instead of
# only the sum of them. Two steps:
#   here (git):   bash kernels/gpu_variants.sh prepare [REV...]
#       exports each revision's CMakeLists.txt, cmake/ and kernels/ into
#       build-variants/NN-REV/ (git archive; default: DEFAULT_REVS below).
#       build-variants/ is ignored by git: pass it to the device call with
#       carry ["build-variants"] (a few hundred KB per version).
#   on the GPU:   bash kernels/gpu_variants.sh run [--json DIR] [--reps N]
#       builds every version's libmurmur_kernels.so at once (one nvcc per
#       version; each with its own kernels/gpu_build.sh), then times them
#       with this tree's kernels/gpu_time.py (a bf16 check, then fwd+bwd at
#       B*H = 64, T = 2048 and 8192, and at B*T = 65536 with per-kernel
#       times), in order and then again in reverse order: two figures per
#       version, whose spread says what difference is noise.
# Budget on an H200 machine (16 cores): the builds run in parallel, about a
# minute or two; each timing pass about 15-20 s per version.
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANTS=${MURMUR_VARIANTS_DIR:-build-variants}

# The versions since the one H200 session's measured code (GPU_NOTES.md):
# c798e09 is run 3's code (measured: 3.16 / 11.6 / 23.0 ms), so its row
# checks that this harness reproduces the notes; then padding, register
# accumulators, the state walks, the smaller shared memory, the background
# copies, the last commit before the L2 prefetch of the states (b2a512b),
# and the tip.
DEFAULT_REVS=(c798e09 0b8b483 5f7f470 664d765 7174a9a d24f765 1caf5d1 HEAD)

prepare() {
  local revs=("$@")
  [[ ${#revs[@]} -gt 0 ]] || revs=("${DEFAULT_REVS[@]}")
  rm -rf "$VARIANTS"
  mkdir -p "$VARIANTS"
  local i=0
  for rev in "${revs[@]}"; do
    local short dir
    short=$(git rev-parse --short=7 "$rev^{commit}")
    dir=$(printf '%s/%02d-%s' "$VARIANTS" "$i" "$short")
    mkdir -p "$dir"
    git archive "$short" CMakeLists.txt cmake kernels | tar -x -C "$dir"
    git log -1 --format='%h %s' "$short" | cut -c1-160 > "$dir/VARIANT"
    for f in kernels/gpu_build.sh kernels/cuda/linear_attn_cuda.cu; do
      [[ -f "$dir/$f" ]] || { echo "$rev has no $f: not a version gpu_variants.sh can build" >&2; exit 1; }
    done
    echo "$dir: $(cat "$dir/VARIANT")"
    i=$((i + 1))
  done
  du -sh "$VARIANTS"
}

run() {
  local json="" reps=10 prev=""
  for a in "$@"; do
    [[ "$prev" == --json ]] && json="$a"
    [[ "$prev" == --reps ]] && reps="$a"
    prev="$a"
  done
  [[ -d "$VARIANTS" ]] || { echo "no $VARIANTS/: run 'prepare' first (here) and carry it" >&2; exit 2; }
  [[ -z "$json" ]] || mkdir -p "$json"
  local dirs=("$VARIANTS"/*/)
  echo "== building ${#dirs[@]} versions at once"
  local pids=()
  for dir in "${dirs[@]}"; do
    (cd "$dir" && BUILD_DIR=build-gpu bash kernels/gpu_build.sh > build.out 2> build.err) &
    pids+=($!)
  done
  local i=0
  for dir in "${dirs[@]}"; do
    if wait "${pids[$i]}" && [[ -s "$dir/build.out" ]]; then
      echo "built $(cat "$dir/VARIANT" | cut -c1-70)"
    else
      echo "FAILED to build $dir; the end of its log:"
      tail -n 15 "$dir/build.err" || true
    fi
    i=$((i + 1))
  done
  printf '%-24s %-4s %-7s %8s %8s %8s  %s\n' version ok "worst" "T=2048" "T=8192" bench \
    "slowest kernels at bench (ms)"
  local status=0 order pass
  for pass in 1 2; do
    order=("${dirs[@]}")
    if [[ $pass == 2 ]]; then  # reverse order: drift over the call shows as a spread
      order=()
      for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do order+=("${dirs[$i]}"); done
    fi
    for dir in "${order[@]}"; do
      local lib name
      lib=$(tail -n 1 "$dir/build.out" 2>/dev/null || true)
      name=$(basename "$dir")
      [[ -n "$lib" ]] || continue
      lib=$(cd "$dir" && realpath "$lib")
      python3 kernels/gpu_time.py --lib "$lib" --label "$name" --reps "$reps" \
        ${json:+--json "$json/$name.pass$pass.json"} || status=1
    done
  done
  exit $status
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare [REV...] | run [--json DIR] [--reps N]" >&2; exit 2 ;;
esac
