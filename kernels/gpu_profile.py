"""One bf16 forward+backward of murmur's op at B*H = 64, D = 128 (the README's
roofline shape), for Nsight Compute: kernels/gpu_profile.sh runs it under
ncu, which profiles the chunk kernels' last launch of the timed call.
  python3 kernels/gpu_profile.py --lib LIB [--T 2048]
"""
import argparse

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--lib", required=True)
ap.add_argument("--T", type=int, default=2048)
args = ap.parse_args()
torch.ops.load_library(args.lib)
q, k, v = (torch.randn(4, args.T, 16, 128, device="cuda", dtype=torch.bfloat16,
                       requires_grad=True) for _ in range(3))
w = torch.randn_like(q)
for _ in range(3):
    o, _ = torch.ops.murmur.chunk_linear_attn(q, k, v, None, None, None, None, False)
    torch.autograd.grad(o, (q, k, v), w)
torch.cuda.synchronize()
print("done")
