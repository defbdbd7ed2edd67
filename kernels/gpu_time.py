"""Times one build of murmur's CUDA ops at the shapes of issue 15's goals, with
a short correctness check first, and prints one row; gpu_variants.sh runs it
for every version of the kernels it built, so one device call compares them.

  python3 kernels/gpu_time.py --lib LIB --label NAME [--json OUT] [--reps N]
  python3 kernels/gpu_time.py --lib LIB --label NAME --device cpu   (no GPU:
      the checks on the CPU op and no timing; a test of this script)

Checks: plain, scalar and GLA, D = 128, bf16, against gpu_check.py's fp64
reference (a fast but wrong version is flagged, not ranked). Times (bf16
fwd+bwd, ms, CUDA events, gpu_check.bench): B*H = 64 at T = 2048 and 8192
(the goals' shape), and the "bench" shape B*T = 65536, H = 16, T = 2048 with
its per-kernel times (torch.profiler), the figures GPU_NOTES.md tracks; and
the forward alone at B*H = 64, fused and chunk-parallel.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_check  # noqa: E402  (the reference, check(), bench(), kernel_times())

# (name, T, tokens): B = tokens // T, H = 16, D = 128.
SHAPES = (("bh64_t2048", 2048, 4 * 2048), ("bh64_t8192", 8192, 4 * 8192),
          ("bench_t2048", 2048, 65536))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--json", default="")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    torch.ops.load_library(args.lib)
    torch.backends.cuda.matmul.allow_tf32 = False
    cpu = args.device == "cpu"
    out = {"label": args.label, "lib": args.lib, "checks": {}, "ms": {}, "sdpa_ms": {},
           "kernels_ms": {}}
    ok_all = True
    for kind in ("plain", "scalar", "gla"):
        D, T = (64, 100) if cpu else (128, 300)
        ok, worst, _ = gpu_check.check(kind, D, torch.bfloat16, 5e-3, T, args.device)
        out["checks"][kind] = worst
        ok_all &= ok
    out["ok"] = ok_all
    if not cpu:
        for name, T, tokens in SHAPES:
            r = gpu_check.bench(T, 128, 16, tokens, args.reps)
            out["ms"][name] = r["ours_ms"]
            out["sdpa_ms"][name] = r["sdpa_ms"]
        out["kernels_ms"] = gpu_check.kernel_times(2048, 128, 16, 65536)
        # Forward alone, fused and chunk-parallel (MURMUR_CUDA_FUSED_FORWARD;
        # versions before the fused forward ignore it: both figures alike).
        out["fwd_ms"] = {f"{name}_{'fused' if fused else 'chunks'}":
                         gpu_check.forward_ms(T, 128, 16, tokens, args.reps, fused)
                         for name, T, tokens in SHAPES[:2] for fused in (True, False)}
    worst = max(out["checks"].values())
    cells = " ".join(f"{out['ms'].get(n, float('nan')):8.3f}" for n, _, _ in SHAPES)
    top = sorted(out["kernels_ms"].items(), key=lambda kv: -kv[1])[:5]
    fwd = " ".join(f"{k}={v:.3f}" for k, v in out.get("fwd_ms", {}).items())
    print(f"{args.label:24s} {'ok' if ok_all else 'FAIL'} {worst:.1e} {cells}  " +
          " ".join(f"{k}={v:.2f}" for k, v in top) + (f"  fwd: {fwd}" if fwd else ""), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
