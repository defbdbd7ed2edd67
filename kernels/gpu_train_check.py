"""Trains murmur's default image model on the GPU with murmur's attention op
and again with causal softmax attention, and reports samples/s for both.

The model mirrors ml/model.h with ModelConfig{} (ml/model_config.h): 28x28
images cut into 4x4 patches (49 tokens) -> Linear(16, 64) + pos_embed ->
2 pre-norm blocks [x += attn(rms(x)); x += fc2(gelu(fc1(rms(x))))] with
4 heads of 16, identity feature map, no decay, RMSNorm over each head's
output, output gate o * silu(W x), MLP 2x -> final RMSNorm -> token mean ->
Linear(64, 10). 79,594 parameters, initialized by the rules in
CreateModel (same distributions, torch's RNG instead of murmur::Rng).

The two variants differ only in the attention call:
  murmur: torch.ops.murmur.chunk_linear_attn (loaded from --lib), causal
  sdpa:   F.scaled_dot_product_attention(is_causal=True) (softmax; torch
          >= 2.0, else the same math written out, with a note)
Both start from identical parameters and train with the same optimizer
(SGD, lr 0.05: the TrainOptions defaults), batch size and batches: a fixed
pool of Fashion-MNIST-shaped synthetic images (one random prototype per
class plus noise), so the loss has something to learn and must fall.

  python3 kernels/gpu_train_check.py --lib build-gpu/.../libmurmur_kernels.so
      [--device cuda] [--steps 300] [--batch 32] [--json out.json]
Exit status 1 when a loss did not fall or a loss is not finite.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS = COLS = 28
PATCH = 4
TOKENS = (ROWS // PATCH) * (COLS // PATCH)
DIM, DEPTH, HEADS, MLP_RATIO, CLASSES = 64, 2, 4, 2, 10
EPS = 1e-6


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


class RmsNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return rms_norm(x, self.weight)


def murmur_attention(q, k, v):
    """[B,T,H,D] in and out; scale 1/sqrt(D) (the op's default)."""
    return torch.ops.murmur.chunk_linear_attn(q, k, v, None, None, None, None, False)[0]


def sdpa_attention(q, k, v):
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # [B,H,T,D]
    if hasattr(F, "scaled_dot_product_attention"):
        o = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    else:  # torch < 2.0: the same computation, unfused
        T = q.shape[1]
        s = qh @ kh.transpose(-1, -2) / math.sqrt(q.shape[-1])
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
        o = s.masked_fill(mask, float("-inf")).softmax(-1) @ vh
    return o.transpose(1, 2)


class LinearAttention(nn.Module):
    """ml/linear_attention.cc with feature_map=identity, decay=none,
    attn_norm=rms, output_gate=true."""

    def __init__(self, attend):
        super().__init__()
        self.attend = attend
        self.q_proj = nn.Linear(DIM, DIM, bias=False)
        self.k_proj = nn.Linear(DIM, DIM, bias=False)
        self.v_proj = nn.Linear(DIM, DIM, bias=False)
        self.o_norm = RmsNorm(DIM // HEADS)
        self.out_gate = nn.Linear(DIM, DIM)
        self.out = nn.Linear(DIM, DIM)

    def forward(self, x):
        B, T, _ = x.shape
        split = lambda y: y.view(B, T, HEADS, DIM // HEADS)
        o = self.attend(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        o = self.o_norm(o).reshape(B, T, DIM) * F.silu(self.out_gate(x))
        return self.out(o)


class Block(nn.Module):
    def __init__(self, attend):
        super().__init__()
        self.attn_norm = RmsNorm(DIM)
        self.attn = LinearAttention(attend)
        self.mlp_norm = RmsNorm(DIM)
        self.fc1 = nn.Linear(DIM, MLP_RATIO * DIM)
        self.fc2 = nn.Linear(MLP_RATIO * DIM, DIM)

    def forward(self, x):
        h = x + self.attn(self.attn_norm(x))
        return h + self.fc2(F.gelu(self.fc1(self.mlp_norm(h))))


class Model(nn.Module):
    """ml/model.h, task=image; parameter names match murmur's TensorList."""

    def __init__(self, attend):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(TOKENS, DIM))
        self.patch_embed = nn.Linear(PATCH * PATCH, DIM)
        self.blocks = nn.ModuleList(Block(attend) for _ in range(DEPTH))
        self.final_norm = RmsNorm(DIM)
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, img):  # [B, 28, 28]
        B = img.shape[0]
        p = img.reshape(B, ROWS // PATCH, PATCH, COLS // PATCH, PATCH)
        x = self.patch_embed(p.permute(0, 1, 3, 2, 4).reshape(B, TOKENS, PATCH * PATCH))
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.final_norm(x).mean(1))


def initialize(model, gen):
    """CreateModel's rules: norms 1, biases 0, pos_embed N(0, 0.02^2),
    2-D weights [out, in] U(-1/sqrt(in), 1/sqrt(in))."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif name == "pos_embed":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
            elif p.dim() == 2:
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_(torch.rand(p.shape, generator=gen) * 2 * bound - bound)
            else:
                raise ValueError(f"no initialization rule for {name}")


def make_data(n, gen):
    """n Fashion-MNIST-shaped examples: pixels in [0, 1], a fixed random
    prototype per class plus noise."""
    protos = torch.rand(CLASSES, ROWS, COLS, generator=gen)
    y = torch.randint(0, CLASSES, (n,), generator=gen)
    x = (protos[y] + 0.6 * torch.randn(n, ROWS, COLS, generator=gen)).clamp(0, 1)
    return x, y


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(model, x, y, batches, lr, device, warmup):
    """SGD over the given batch index list; returns samples/s over the
    steps after `warmup` and the per-step losses."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    start = None
    for step, idx in enumerate(batches):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    sync(device)
    elapsed = time.perf_counter() - start
    timed = len(batches) - warmup
    samples = timed * len(batches[0])
    return samples / elapsed, [float(l) for l in losses]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True, help="libmurmur_kernels.so (torch.ops.murmur)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32, help="TrainOptions default: 32")
    ap.add_argument("--lr", type=float, default=0.05, help="TrainOptions default: 0.05")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    if args.steps < 20:
        sys.exit("--steps must be at least 20 (10 warm-up steps, 10 for the final loss)")

    torch.ops.load_library(args.lib)
    note = ""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        note = "no CUDA in this PyTorch: ran on the CPU (a smoke check, not a GPU figure)"
        print(f"NOTE: {note}")
        device = torch.device("cpu")
    if not hasattr(F, "scaled_dot_product_attention"):
        extra = f"torch {torch.__version__} has no scaled_dot_product_attention: sdpa ran unfused"
        print(f"NOTE: {extra}")
        note = f"{note}; {extra}" if note else extra

    gen = torch.Generator().manual_seed(args.seed)
    x, y = make_data(8192, gen)
    x, y = x.to(device), y.to(device)
    batches = [torch.randint(0, len(y), (args.batch,), generator=gen).to(device)
               for _ in range(args.steps)]
    warmup = 10

    ref = Model(murmur_attention)
    initialize(ref, gen)
    print(f"model: default image model, {sum(p.numel() for p in ref.parameters()):,} params; "
          f"SGD lr {args.lr}, batch {args.batch}, {args.steps} steps on {device}")
    results = {"device": str(device), "steps": args.steps, "batch": args.batch, "lr": args.lr,
               "params": sum(p.numel() for p in ref.parameters()), "note": note}
    ok = True
    for name, attend in (("murmur", murmur_attention), ("sdpa", sdpa_attention)):
        model = Model(attend)
        model.load_state_dict(ref.state_dict())
        model.to(device)
        sps, losses = train(model, x, y, batches, args.lr, device, warmup)
        first = sum(losses[:10]) / 10
        last = sum(losses[-10:]) / 10
        fell = math.isfinite(last) and last < first
        ok = ok and fell
        results[name] = {"samples_per_s": sps, "loss_first10": first, "loss_last10": last,
                         "loss_fell": fell}
        print(f"{name:>7}: {sps:10.0f} samples/s   loss {first:.3f} -> {last:.3f}"
              f"{'' if fell else '   LOSS DID NOT FALL'}")
    ratio = results["murmur"]["samples_per_s"] / results["sdpa"]["samples_per_s"]
    results["murmur_vs_sdpa"] = ratio
    results["ok"] = ok
    print(f"murmur / sdpa samples/s: {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if not ok:
        print("FAIL: a loss did not fall")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
