// Binding for murmur::chunk_gla: gated linear attention with one log decay
// per key dimension, g: [B,T,H,DK].
#include <torch/library.h>

#include <cmath>

#include "kernels/ops/linear_attn_autograd.h"

namespace murmur::kernels {
namespace {

constexpr char kOp[] = "murmur.chunk_gla";

std::tuple<at::Tensor, at::Tensor> ChunkGla(const at::Tensor& q, const at::Tensor& k,
                                            const at::Tensor& v, const at::Tensor& g,
                                            c10::optional<double> scale,
                                            const c10::optional<at::Tensor>& initial_state,
                                            bool output_final_state) {
  CheckQkv(kOp, q, k, v, initial_state);
  TORCH_CHECK(g.defined(), kOp, ": g is required (use chunk_linear_attn for no gate)");
  TORCH_CHECK(g.sizes() == q.sizes(), kOp, ": g must be [B, T, H, DK] like q ", q.sizes(),
              ", got ", g.sizes());
  TORCH_CHECK(g.device() == q.device(), kOp, ": g is on ", g.device(), " but q is on ",
              q.device());
  CheckLogGate(kOp, "g", g);
  const double s = scale.has_value() ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  TORCH_CHECK(std::isfinite(s), kOp, ": scale must be finite, got ", s);
  return LinearAttn(q, k, v, g, GateKind::kPerDim, s, initial_state, output_final_state);
}

}  // namespace

TORCH_LIBRARY_IMPL(murmur, CompositeImplicitAutograd, m) { m.impl("chunk_gla", &ChunkGla); }

}  // namespace murmur::kernels
