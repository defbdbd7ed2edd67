// Every schema of the `murmur` torch library, in one place. Implementations
// register per dispatch key in the binding files. Loading
// libmurmur_kernels.so (torch.ops.load_library in Python) makes them
// available as torch.ops.murmur.*.
#include <torch/library.h>

#include "kernels/ops/registration.h"

namespace murmur::kernels {

int EnsureRegistered() { return 1; }

}  // namespace murmur::kernels

TORCH_LIBRARY(murmur, m) {
  // Causal linear attention; g: [B,T,H] log decay per step, or g_gamma: [H]
  // constant log decay per head, or neither. Returns (o, final_state or None).
  m.def(
      "chunk_linear_attn(Tensor q, Tensor k, Tensor v, Tensor? g=None, Tensor? g_gamma=None, "
      "float? scale=None, Tensor? initial_state=None, bool output_final_state=False) "
      "-> (Tensor, Tensor)");
  // Gated linear attention with per-key-dimension log gates g: [B,T,H,DK].
  m.def(
      "chunk_gla(Tensor q, Tensor k, Tensor v, Tensor g, float? scale=None, "
      "Tensor? initial_state=None, bool output_final_state=False) -> (Tensor, Tensor)");
  // Device primitives behind both (validated, contiguous inputs; gate_kind
  // 0 none, 1 scalar [B,T,H], 2 per-dim [B,T,H,DK]).
  m.def(
      "linear_attn_fwd(Tensor q, Tensor k, Tensor v, Tensor? g, int gate_kind, float scale, "
      "Tensor? initial_state, bool output_final_state) -> (Tensor, Tensor)");
  m.def(
      "linear_attn_bwd(Tensor q, Tensor k, Tensor v, Tensor? g, int gate_kind, float scale, "
      "Tensor? initial_state, Tensor grad_o, Tensor? grad_final_state) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor)");
}
