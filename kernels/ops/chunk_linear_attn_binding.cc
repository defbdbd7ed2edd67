// Binding for murmur::chunk_linear_attn (plain, per-step scalar decay g, or
// constant per-head decay g_gamma). Checks the op's own arguments, builds the
// normalized gate and hands over to the shared autograd core.
#include <torch/library.h>

#include <cmath>

#include "kernels/ops/linear_attn_autograd.h"

namespace murmur::kernels {
namespace {

constexpr char kOp[] = "murmur.chunk_linear_attn";

std::tuple<at::Tensor, at::Tensor> ChunkLinearAttn(const at::Tensor& q, const at::Tensor& k,
                                                   const at::Tensor& v,
                                                   const c10::optional<at::Tensor>& g,
                                                   const c10::optional<at::Tensor>& g_gamma,
                                                   c10::optional<double> scale,
                                                   const c10::optional<at::Tensor>& initial_state,
                                                   bool output_final_state) {
  CheckQkv(kOp, q, k, v, initial_state);
  const bool has_g = g.has_value() && g->defined();
  const bool has_gamma = g_gamma.has_value() && g_gamma->defined();
  TORCH_CHECK(!(has_g && has_gamma), kOp, ": pass g (per-step decay) or g_gamma (per-head "
              "constant decay), not both");
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2);
  at::Tensor gate;
  GateKind kind = GateKind::kNone;
  if (has_g) {
    TORCH_CHECK(g->dim() == 3 && g->size(0) == B && g->size(1) == T && g->size(2) == H, kOp,
                ": g must be [B, T, H] = [", B, ", ", T, ", ", H, "], got ", g->sizes(),
                " (per-key-dimension gates belong to chunk_gla)");
    TORCH_CHECK(g->device() == q.device(), kOp, ": g is on ", g->device(), " but q is on ",
                q.device());
    CheckLogGate(kOp, "g", *g);
    gate = *g;
    kind = GateKind::kScalar;
  } else if (has_gamma) {
    TORCH_CHECK(g_gamma->dim() == 1 && g_gamma->size(0) == H, kOp, ": g_gamma must be [H] = [",
                H, "], got ", g_gamma->sizes());
    TORCH_CHECK(g_gamma->device() == q.device(), kOp, ": g_gamma is on ", g_gamma->device(),
                " but q is on ", q.device());
    CheckLogGate(kOp, "g_gamma", *g_gamma);
    gate = g_gamma->view({1, 1, H}).expand({B, T, H});
    kind = GateKind::kScalar;
  }
  const double s = scale.has_value() ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  TORCH_CHECK(std::isfinite(s), kOp, ": scale must be finite, got ", s);
  return LinearAttn(q, k, v, gate, kind, s, initial_state, output_final_state);
}

}  // namespace

TORCH_LIBRARY_IMPL(murmur, CompositeImplicitAutograd, m) {
  m.impl("chunk_linear_attn", &ChunkLinearAttn);
}

}  // namespace murmur::kernels
