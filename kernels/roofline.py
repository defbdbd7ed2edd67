#!/usr/bin/env python3
"""Roofline floor of one fwd+bwd of murmur's chunked linear attention at the
benchmark shape, per GPU, printed as the README's markdown table.

Per (batch*head, token), dk = dv = D, chunk C (KERNELS.md):
  FLOPs  = 14 D^2 + 14 C D        (2 FLOPs per multiply-add)
  bytes  = 11 D elements * 2      (q, k, v, o read/written once each way, bf16)
  floor  = max(FLOPs / peak 16-bit tensor rate, bytes / memory bandwidth)
The "this design" column is the same bound for the CUDA kernels as they are
built (linear_attn_cuda.cu, tensor-core path, no gate): the four products
with a state (Q S, dO S^T, V dS^T, K dS, 8 D^2) run twice, against the hi
and lo halves of the state, and every per-chunk state crosses memory several
times (STATE_TRAFFIC: bytes per state element, each chunk's state being
D^2 / C elements per token): the state walks write it as a 16-bit hi + lo
pair and the consumers read that pair. That traffic, not the inputs, is
most of the bytes at C = 64.
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


# Bytes per state element moved by each step of one fwd+bwd on the tensor-
# core path (hi + lo = 2 + 2): the state walks keep the fp32 state in
# registers and write each chunk's state once; the backward walks the
# forward's states again rather than keeping them.
STATE_TRAFFIC = {
    "forward: walk writes hi+lo": 4,
    "forward: output reads hi+lo": 4,
    "backward: walk writes S hi+lo": 4,
    "backward: reverse walk writes dS hi+lo": 4,
    "backward: dq/dk read S and dS hi+lo": 8,
    "backward: dv reads dS hi+lo": 4,
}


def main():
    flop_tok = 14 * D * D + 14 * C * D
    bytes_tok = 11 * D * 2
    design_flop_tok = flop_tok + 8 * D * D  # the lo halves of the state products
    state_bytes_tok = sum(STATE_TRAFFIC.values()) * D * D // C
    design_bytes_tok = bytes_tok + state_bytes_tok
    print(f"Per token-head: {flop_tok} FLOP, {bytes_tok} bytes "
          f"({flop_tok / bytes_tok:.0f} FLOP/byte); this design: {design_flop_tok} FLOP, "
          f"{design_bytes_tok} bytes ({state_bytes_tok} of them chunk states)")
    print(f"B*H = {BH}, D = {D}, C = {C}, fwd+bwd")
    print("| GPU | arch | tensor TFLOP/s | GB/s | T | GFLOP | MB | compute ms | memory ms "
          "| floor ms | this design ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, arch, tc, fp32, bw, _ in GPUS:
        rate = tc
        for T in (2048, 8192):
            tok = BH * T
            flop, byts = flop_tok * tok, bytes_tok * tok
            compute_ms = flop / (rate * 1e12) * 1e3
            memory_ms = byts / (bw * 1e9) * 1e3
            design_ms = max(design_flop_tok * tok / (rate * 1e12),
                            design_bytes_tok * tok / (bw * 1e9)) * 1e3
            print(f"| {name} | {arch} | {tc:g} | {bw:g} | {T} | {flop / 1e9:.1f} | "
                  f"{byts / 1e6:.0f} | {compute_ms:.3f} | {memory_ms:.3f} | "
                  f"{max(compute_ms, memory_ms):.3f} | {design_ms:.3f} |")


if __name__ == "__main__":
    main()
