"""GPU correctness checks and benchmark for murmur's linear-attention ops.

Run through kernels/gpu_check.sh (which builds the library). Checks, per
KERNELS.md: fp32 inputs (TF32 off) vs an fp64 reference <= 1e-4 relative RMS
error for o, the final state and every gradient; bf16 <= 5e-3; then the
checks again under each target architecture's per-block shared-memory
limit (MURMUR_CUDA_MAX_SMEM_PER_BLOCK), D 16 to 128.
Benchmark: forward+backward of chunk_linear_attn (bf16) vs torch's causal
scaled_dot_product_attention at equal tokens, and the memory-bound floor
(22*D bytes per token-head at 4.3 TB/s). Then the per-kernel CUDA time of
one call (torch.profiler), to show which chunk kernel to work on next.
"""
import argparse
import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F


def reference(q, k, v, g, kind, scale, h0):
    """fp64 chunk-free reference: the masked quadratic form plus the h0 term."""
    q, k, v = (x.double() for x in (q, k, v))
    B, T, H, DK = q.shape
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # [B,H,T,D]
    if kind == "plain":
        b = torch.zeros(B, H, T, 1, dtype=torch.float64, device=q.device)
    elif kind in ("scalar", "const"):
        gg = g.double() if kind == "scalar" else g.double().view(1, 1, H).expand(B, T, H)
        b = gg.cumsum(1).transpose(1, 2).unsqueeze(-1)  # [B,H,T,1]
    else:  # gla
        b = g.double().cumsum(1).transpose(1, 2)  # [B,H,T,DK]
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    expo = b.unsqueeze(3) - b.unsqueeze(2)  # [B,H,T,T,D']
    expo = expo.masked_fill(~causal.view(1, 1, T, T, 1), float("-inf"))
    att = (qh.unsqueeze(3) * kh.unsqueeze(2) * expo.exp()).sum(-1)  # [B,H,T,T]
    o = scale * att @ vh
    if h0 is not None:
        o = o + scale * (qh * b.exp()) @ h0.double()
    bT = b[:, :, -1:, :].transpose(-1, -2)  # [B,H,D',1]
    kd = kh * (b[:, :, -1:, :] - b).exp()
    hT = kd.transpose(-1, -2) @ vh
    if h0 is not None:
        hT = hT + bT.exp() * h0.double()
    return o.transpose(1, 2), hT


def run_op(kind, q, k, v, g, h0, scale=None):
    if kind == "gla":
        return torch.ops.murmur.chunk_gla(q, k, v, g, scale, h0, True)
    if kind == "const":
        return torch.ops.murmur.chunk_linear_attn(q, k, v, None, g, scale, h0, True)
    if kind == "scalar":
        return torch.ops.murmur.chunk_linear_attn(q, k, v, g, None, scale, h0, True)
    return torch.ops.murmur.chunk_linear_attn(q, k, v, None, None, scale, h0, True)


def make(kind, B, T, H, D, dtype, device, seed):
    gen = torch.Generator(device="cpu").manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen)
    q, k, v = r(B, T, H, D), r(B, T, H, D), r(B, T, H, D)
    g = None
    if kind == "scalar":
        g = F.logsigmoid(r(B, T, H) + 2)
    elif kind == "const":
        g = -torch.rand(H, generator=gen) * 0.3 - 0.01
    elif kind == "gla":
        g = F.logsigmoid(r(B, T, H, D) + 2)
    h0 = r(B, H, D, D)
    to = lambda x: None if x is None else x.to(device=device, dtype=dtype if x.dim() > 1 else torch.float32)
    return to(q), to(k), to(v), (None if g is None else g.to(device)), h0.to(device)


def rel_rms(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def check(kind, D, dtype, tol, T, dev="cuda", h0_times=1.0, scale=None, kv_times=1.0):
    """Worst relative error of o, the final state and every gradient against
    the fp64 reference. h0_times scales the initial state, kv_times the keys
    and values (and so the chunk states), scale the attention (default
    1/sqrt(D))."""
    q, k, v, g, h0 = make(kind, 2, T, 3, D, dtype, dev, 7)
    h0 = h0 * h0_times
    if kv_times != 1.0:
        k, v = ((x.float() * kv_times).to(dtype) for x in (k, v))
    leaves = [x for x in (q, k, v, g, h0) if x is not None]
    for x in leaves:
        x.requires_grad_(True)
    o, hT = run_op(kind, q, k, v, g, h0, scale)
    ro, rhT = reference(q, k, v, g, kind, 1 / math.sqrt(D) if scale is None else scale, h0)
    # Seeded like the inputs, so a check gives the same error every run: the
    # constant-gate dg sums T suffix sums that largely cancel, and its fp32
    # error moves between 1e-5 and 1e-4 with the weights alone.
    gen = torch.Generator(device="cpu").manual_seed(11)
    wo = torch.randn(ro.shape, generator=gen, dtype=torch.float64).to(ro.device)
    ws = torch.randn(rhT.shape, generator=gen, dtype=torch.float64).to(rhT.device)
    ours = torch.autograd.grad((o.double() * wo).sum() + (hT.double() * ws).sum(), leaves)
    refs = torch.autograd.grad((ro * wo).sum() + (rhT * ws).sum(), leaves)
    errs = {"o": rel_rms(o, ro), "hT": rel_rms(hT, rhT)}
    names = ["dq", "dk", "dv"] + (["dg"] if g is not None else []) + ["dh0"]
    for n, a, b in zip(names, ours, refs):
        errs[n] = rel_rms(a, b)
    worst = max(errs.values())
    return worst <= tol, worst, errs


def bench_problem(T, D, H, tokens, dt=torch.bfloat16):
    """q, k, v of dtype dt (bf16 by default; and the output weights w) at
    B = tokens // T, and one forward+backward of ours on them."""
    B = max(1, tokens // T)
    dev = "cuda"
    q, k, v = (torch.randn(B, T, H, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
    w = torch.randn(B, T, H, D, device=dev, dtype=dt)

    def ours():
        o, _ = torch.ops.murmur.chunk_linear_attn(q, k, v, None, None, None, None, False)
        torch.autograd.grad(o, (q, k, v), w)

    return B, (q, k, v, w), ours


def timed_ms(fn, reps):
    """ms per call of fn, CUDA events over reps calls after 3 warm-up calls;
    the peak memory statistics are reset before the timed calls."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def forward_ms(T, D, H, tokens, reps, fused=True, dt=torch.bfloat16):
    """ms of one forward of ours (no autograd): the fused forward where it
    applies, or with fused=False (MURMUR_CUDA_FUSED_FORWARD=0) the chunk-
    parallel one (state walk + output kernel)."""
    os.environ["MURMUR_CUDA_FUSED_FORWARD"] = "1" if fused else "0"
    B = max(1, tokens // T)
    q, k, v = (torch.randn(B, T, H, D, device="cuda", dtype=dt) for _ in range(3))

    def fwd():
        torch.ops.murmur.chunk_linear_attn(q, k, v, None, None, None, None, False)

    ms = timed_ms(fwd, reps)
    os.environ.pop("MURMUR_CUDA_FUSED_FORWARD")
    return ms


def bench(T, D, H, tokens, reps, dt=torch.bfloat16, tensor_cores=True, fused=True):
    """ours vs causal SDPA, one fwd+bwd; tensor_cores=False sets
    MURMUR_CUDA_TENSOR_CORES=0 (the CUDA-core path) for ours, fused=False
    MURMUR_CUDA_FUSED_FORWARD=0 (the chunk-parallel forward)."""
    os.environ["MURMUR_CUDA_TENSOR_CORES"] = "1" if tensor_cores else "0"
    os.environ["MURMUR_CUDA_FUSED_FORWARD"] = "1" if fused else "0"
    B, (q, k, v, w), ours = bench_problem(T, D, H, tokens, dt)

    qs, ks, vs = (x.detach().transpose(1, 2).contiguous().requires_grad_(True) for x in (q, k, v))
    ws_ = w.transpose(1, 2).contiguous()

    def sdpa():
        o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)
        torch.autograd.grad(o, (qs, ks, vs), ws_)

    out = {}
    for name, fn in (("ours", ours), ("sdpa", sdpa)):
        out[name + "_ms"] = timed_ms(fn, reps)
        out[name + "_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    floor_ms = B * T * H * 22 * D / 4.3e12 * 1e3
    os.environ.pop("MURMUR_CUDA_TENSOR_CORES")
    os.environ.pop("MURMUR_CUDA_FUSED_FORWARD")
    out.update({"T": T, "B": B, "H": H, "D": D, "dtype": str(dt), "tensor_cores": tensor_cores,
                "fused_forward": fused, "floor_ms": floor_ms,
                "ours_vs_floor": out["ours_ms"] / floor_ms,
                "speedup_vs_sdpa": out["sdpa_ms"] / out["ours_ms"]})
    return out


def kernel_rows(T, D, H, tokens, reps=5):
    """(ms per call, launches per call, kernel name) of every CUDA kernel in
    one bf16 forward+backward of ours at this shape (torch.profiler, after a
    warm-up), slowest first; and B."""
    B, _, step = bench_problem(T, D, H, tokens)
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            step()
        torch.cuda.synchronize()
    from torch.autograd import DeviceType

    rows = []
    for e in prof.key_averages():
        if getattr(e, "device_type", None) != DeviceType.CUDA:
            continue  # CPU-side ops; their device time is their kernels'
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = getattr(e, "self_cuda_time_total", 0)
        if us > 0:
            rows.append((us / reps / 1e3, e.count // reps, e.key))
    rows.sort(reverse=True)
    return B, rows


def profile(T, D, H, tokens, top=12):
    """Per-kernel CUDA time of one forward+backward of ours at this shape, so
    one run on a device also says which of the chunk kernels to speed up."""
    B, rows = kernel_rows(T, D, H, tokens)
    print(f"per-kernel CUDA time, one fwd+bwd at T={T} B={B} H={H} D={D} (bf16):")
    for ms, count, name in rows[:top]:
        print(f"  {ms:8.3f} ms  x{count:<3d} {name[:100]}")
    return [{"ms": ms, "launches": count, "kernel": name} for ms, count, name in rows[:top]]


def kernel_times(T, D, H, tokens):
    """Per-kernel CUDA ms of one bf16 forward+backward of murmur's kernels, by
    short name (ChunkGradQKKernel<...> -> ChunkGradQK)."""
    out = {}
    for ms, _, key in kernel_rows(T, D, H, tokens)[1]:
        if "murmur" in key:
            m = re.search(r"::(\w+?)Kernel\b", key)
            name = m.group(1) if m else key[:40]
            out[name] = out.get(name, 0.0) + ms
    return out


def sweep_smem(T=8192, D=128, H=16):
    """The same call under each per-block shared-memory cap (the launch plan
    each target GPU gets: smaller tiles, more blocks per SM), with per-kernel
    times: which plan is fastest on this GPU."""
    rows = []
    print(f"launch plans on this GPU, bf16 fwd+bwd at B*H = 64, T = {T}, D = {D} (ms):")
    for kb in (48, 64, 99, 163, 227):
        os.environ["MURMUR_CUDA_MAX_SMEM_PER_BLOCK"] = str(kb * 1024)
        r = bench(T, D, H, 4 * T, 5)
        ks = kernel_times(T, D, H, 4 * T)
        rows.append({"smem_kb": kb, "ours_ms": r["ours_ms"], "kernels": ks})
        print(f"  cap {kb:3d} KB: {r['ours_ms']:8.3f}  " +
              " ".join(f"{k}={v:.2f}" for k, v in sorted(ks.items(), key=lambda kv: -kv[1])))
    os.environ.pop("MURMUR_CUDA_MAX_SMEM_PER_BLOCK")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--device", default="cuda",
                    help="cpu runs the same checks on the CPU op (no benchmark): a test of this "
                         "script and of the library's PyTorch loading where there is no GPU")
    args = ap.parse_args()
    torch.ops.load_library(args.lib)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.device == "cuda":
        print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    else:
        print(f"device: {args.device}  torch {torch.__version__}")
    ok_all, rows = True, []
    # fp16 and bf16 run on tensor cores where the GPU has them for the type
    # (fp16 sm_75+, bf16 sm_80+); fp32 on CUDA cores.
    dtypes = ((torch.float32, 1e-4), (torch.bfloat16, 5e-3), (torch.float16, 5e-3))
    for kind in ("plain", "scalar", "const", "gla"):
        for D in (64, 128):
            for dtype, tol in dtypes:
                T = 200 if kind == "gla" else 300
                ok, worst, errs = check(kind, D, dtype, tol, T, args.device)
                ok_all &= ok
                rows.append({"kind": kind, "D": D, "dtype": str(dtype), "worst": worst, "ok": ok})
                print(f"check {kind:6s} D={D:3d} {str(dtype):15s} worst rel err {worst:.2e}  {'ok' if ok else 'FAIL'}  {errs if not ok else ''}")
    # fp16 chunk states far outside fp16's range (tensor cores store them
    # scaled per fragment): an initial state of 1e5 (o and dq stay in range
    # through a small scale), and states near 1e-5 (keys and values of 1e-3,
    # an initial state of 1e-6, a large scale).
    for kind in ("plain", "scalar", "gla"):
        for h0_times, kv_times, scale in ((1e5, 1.0, 0.01), (1e-6, 1e-3, 1000.0)):
            ok, worst, errs = check(kind, 64, torch.float16, 5e-3, 150, args.device, h0_times,
                                    scale, kv_times)
            ok_all &= ok
            rows.append({"kind": kind, "D": 64, "dtype": "torch.float16", "h0_times": h0_times,
                         "kv_times": kv_times, "worst": worst, "ok": ok})
            print(f"check {kind:6s} D= 64 fp16, h0 x {h0_times:g}, k and v x {kv_times:g}, scale "
                  f"{scale:g}: worst rel err {worst:.2e}  {'ok' if ok else 'FAIL'}  "
                  f"{errs if not ok else ''}")
    if args.device == "cuda":
        # The launch plan of every target architecture on this GPU: the
        # library sees each one's per-block shared-memory limit (48 KB
        # without opt-in, T4 64 KB, RTX 30/40 and L4 99 KB, A100 and Orin
        # 163 KB, H100/H200 227 KB) and tiles to fit it; every head dim.
        for kb in (48, 64, 99, 163, 227):
            os.environ["MURMUR_CUDA_MAX_SMEM_PER_BLOCK"] = str(kb * 1024)
            for kind in ("plain", "scalar", "gla"):
                for D in (16, 32, 64, 128):
                    for dtype, tol in dtypes:
                        ok, worst, errs = check(kind, D, dtype, tol, 150, args.device)
                        ok_all &= ok
                        rows.append({"smem_kb": kb, "kind": kind, "D": D, "dtype": str(dtype),
                                     "worst": worst, "ok": ok})
                        if not ok:
                            print(f"check smem {kb} KB {kind} D={D} {dtype}: FAIL {errs}")
            print(f"checks at {kb:3d} KB per block (plain, scalar, gla; D 16-128; fp32, bf16, fp16): "
                  f"{'ok' if all(r['ok'] for r in rows if r.get('smem_kb') == kb) else 'FAIL'}")
        os.environ.pop("MURMUR_CUDA_MAX_SMEM_PER_BLOCK")
        # The CUDA-core path for 16-bit inputs (what sm_75 runs for bf16,
        # and MURMUR_CUDA_TENSOR_CORES=0 everywhere) stays checked too.
        os.environ["MURMUR_CUDA_TENSOR_CORES"] = "0"
        for kind in ("plain", "scalar", "gla"):
            for D in (64, 128):
                for dtype, tol in dtypes[1:]:
                    ok, worst, errs = check(kind, D, dtype, tol, 150, args.device)
                    ok_all &= ok
                    rows.append({"tensor_cores": False, "kind": kind, "D": D, "dtype": str(dtype),
                                 "worst": worst, "ok": ok})
                    if not ok:
                        print(f"check CUDA cores {kind} D={D} {dtype}: FAIL {errs}")
        os.environ.pop("MURMUR_CUDA_TENSOR_CORES")
        print("checks on CUDA cores for bf16/fp16 (MURMUR_CUDA_TENSOR_CORES=0): "
              f"{'ok' if all(r['ok'] for r in rows if r.get('tensor_cores') is False) else 'FAIL'}")
        # The chunk-parallel forward on tensor cores, which the fused one
        # replaces where it fits (no per-dim gate), stays checked too.
        os.environ["MURMUR_CUDA_FUSED_FORWARD"] = "0"
        for kind in ("plain", "scalar"):
            for D in (64, 128):
                for dtype, tol in dtypes[1:]:
                    ok, worst, errs = check(kind, D, dtype, tol, 150, args.device)
                    ok_all &= ok
                    rows.append({"fused_forward": False, "kind": kind, "D": D,
                                 "dtype": str(dtype), "worst": worst, "ok": ok})
                    if not ok:
                        print(f"check chunk-parallel forward {kind} D={D} {dtype}: FAIL {errs}")
        os.environ.pop("MURMUR_CUDA_FUSED_FORWARD")
        print("checks with the chunk-parallel forward (MURMUR_CUDA_FUSED_FORWARD=0): "
              f"{'ok' if all(r['ok'] for r in rows if r.get('fused_forward') is False) else 'FAIL'}")
    if args.device != "cuda":
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"checks": rows}, f, indent=2)
        sys.exit(0 if ok_all else 1)
    results = []
    Ts = (2048,) if args.quick else (1024, 2048, 4096, 8192)
    print(f"{'T':>6} {'B':>4} {'ours ms':>9} {'sdpa ms':>9} {'floor ms':>9} {'x floor':>8} {'vs sdpa':>8}")
    for T in Ts:
        r = bench(T, 128, 16, 65536, 5 if args.quick else 20)
        results.append(r)
        print(f"{T:6d} {r['B']:4d} {r['ours_ms']:9.3f} {r['sdpa_ms']:9.3f} {r['floor_ms']:9.3f} {r['ours_vs_floor']:8.1f} {r['speedup_vs_sdpa']:8.2f}")
    # The README's roofline shape: B*H = 64 (B = 4, H = 16), D = 128;
    # tensor cores vs CUDA cores vs causal SDPA, bf16 and fp16.
    print("B*H = 64, D = 128, fwd+bwd:")
    print(f"{'T':>6} {'dtype':>15} {'path':>6} {'ours ms':>9} {'sdpa ms':>9} {'floor ms':>9} "
          f"{'x floor':>8} {'vs sdpa':>8}")
    Ts64 = (2048,) if args.quick else (2048, 8192)
    for T in Ts64:
        for dt in (torch.bfloat16, torch.float16):
            for tc in (True, False):
                r = bench(T, 128, 16, 4 * T, 3 if args.quick else 10, dt, tc)
                results.append(r)
                print(f"{T:6d} {str(dt):>15} {'tc' if tc else 'cuda':>6} {r['ours_ms']:9.3f} "
                      f"{r['sdpa_ms']:9.3f} {r['floor_ms']:9.3f} {r['ours_vs_floor']:8.1f} "
                      f"{r['speedup_vs_sdpa']:8.2f}")
    # The fused forward against the chunk-parallel one (bf16, tensor cores):
    # forward alone and fwd+bwd (whose backward is the same either way).
    print("B*H = 64, D = 128, bf16: fused vs chunk-parallel forward (ms)")
    print(f"{'T':>6} {'fwd fused':>10} {'fwd chunks':>11} {'fwd+bwd fused':>14} {'fwd+bwd chunks':>15}")
    fused_rows = []
    for T in Ts64:
        reps = 3 if args.quick else 10
        row = {"T": T, "fwd_fused_ms": forward_ms(T, 128, 16, 4 * T, reps, True),
               "fwd_chunks_ms": forward_ms(T, 128, 16, 4 * T, reps, False),
               "fwdbwd_fused_ms": bench(T, 128, 16, 4 * T, reps)["ours_ms"],
               "fwdbwd_chunks_ms": bench(T, 128, 16, 4 * T, reps, fused=False)["ours_ms"]}
        fused_rows.append(row)
        print(f"{T:6d} {row['fwd_fused_ms']:10.3f} {row['fwd_chunks_ms']:11.3f} "
              f"{row['fwdbwd_fused_ms']:14.3f} {row['fwdbwd_chunks_ms']:15.3f}")
    breakdown, sweep = [], []
    try:
        breakdown = profile(2048, 128, 16, 65536)
        sweep = sweep_smem()
    except Exception as e:  # the profiler is a diagnostic: never fail the run on it
        print(f"profile skipped: {e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checks": rows, "bench": results, "fused_forward": fused_rows,
                       "profile": breakdown, "smem_sweep": sweep}, f, indent=2)
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
