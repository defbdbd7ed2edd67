#!/usr/bin/env python3
"""Roofline floor of one fwd+bwd of murmur's chunked linear attention at the
benchmark shape, per GPU, printed as the README's markdown table.

Per (batch*head, token), dk = dv = D, chunk C (KERNELS.md):
  FLOPs  = 14 D^2 + 14 C D        (2 FLOPs per multiply-add)
  bytes  = 11 D elements * 2      (q, k, v, o read/written once each way, bf16)
  floor  = max(FLOPs / peak 16-bit tensor rate, bytes / memory bandwidth)
Of the 14 D^2, 8 D^2 are products with the fp32 state (Q S, dO S^T, V dS^T,
K dS) that this implementation runs on CUDA cores in fp32; the "this code"
column adds them at the fp32 CUDA-core rate:
  floor_impl = max((6 D^2 + 14 C D) / tensor + 8 D^2 / fp32, bytes / bw)
Peak figures are vendor datasheet values (dense, no sparsity); Orin's is
derived from its datasheet's 170 sparse INT8 TOPS (/2 dense, /2 fp16).
"""

BH, D, C = 64, 128, 64

# name, arch, 16-bit dense tensor TFLOP/s (fp32 accumulate), fp32 CUDA-core
# TFLOP/s, memory GB/s, note
GPUS = [
    ("T4 (fp16)", "sm_75", 65.0, 8.1, 320, "no bf16 tensor cores"),
    ("T4 (bf16: CUDA cores)", "sm_75", 8.1, 8.1, 320, "all FLOPs at the fp32 rate"),
    ("RTX 3090", "sm_86", 71.0, 35.6, 936, "GeForce: fp32-accumulate rate"),
    ("A10", "sm_86", 125.0, 31.2, 600, ""),
    ("Jetson AGX Orin 64GB", "sm_87", 42.5, 5.3, 204.8, "derived from 170 sparse INT8 TOPS"),
    ("L4", "sm_89", 121.0, 30.3, 300, ""),
    ("A100 SXM 80GB", "sm_80", 312.0, 19.5, 2039, ""),
    ("H100 SXM", "sm_90", 989.0, 67.0, 3350, ""),
    ("H200 SXM", "sm_90", 989.0, 67.0, 4800, ""),
]


def main():
    flop_tok = 14 * D * D + 14 * C * D
    cuda_core_tok = 8 * D * D
    bytes_tok = 11 * D * 2
    print(f"Per token-head: {flop_tok} FLOP, {bytes_tok} bytes "
          f"({flop_tok / bytes_tok:.0f} FLOP/byte)")
    print(f"B*H = {BH}, D = {D}, C = {C}, fwd+bwd")
    print("| GPU | arch | tensor TFLOP/s | GB/s | T | GFLOP | MB | compute ms | memory ms "
          "| floor ms | this code ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, arch, tc, fp32, bw, _ in GPUS:
        for T in (2048, 8192):
            tok = BH * T
            flop, byts = flop_tok * tok, bytes_tok * tok
            rate = tc
            compute_ms = flop / (rate * 1e12) * 1e3
            memory_ms = byts / (bw * 1e9) * 1e3
            impl_ms = max(((flop_tok - cuda_core_tok) * tok / (rate * 1e12)
                           + cuda_core_tok * tok / (fp32 * 1e12)) * 1e3, memory_ms)
            print(f"| {name} | {arch} | {tc:g} | {bw:g} | {T} | {flop / 1e9:.1f} | "
                  f"{byts / 1e6:.0f} | {compute_ms:.3f} | {memory_ms:.3f} | "
                  f"{max(compute_ms, memory_ms):.3f} | {impl_ms:.3f} |")


if __name__ == "__main__":
    main()
