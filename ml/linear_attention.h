// LinearAttention: the token-mixing layer of murmur's transformer.
//
//   x [B,T,dim] -> q, k, v = x W_q, x W_k, x W_v, per head [B,T,H,dh]
//   q, k <- phi(q), phi(k)                  feature map (ModelConfig::feature_map)
//   g    <- decay                           none | fixed g_gamma [H] | scalar [B,T,H] | gla [B,T,H,dk]
//   o    <- causal linear attention         murmur::chunk_linear_attn / chunk_gla
//                                           (or the plain-ATen reference, for benchmarks);
//           + the same over reversed tokens  when bidirectional (images)
//   o    <- RMSNorm_head(o)                 attn_norm=rms (TransNormer), or
//           o / (q . z)                     attn_norm=denominator (z: decayed sum of k)
//   o    <- o * silu(x W_og)                when output_gate
//   out  =  o W_out
//
// Parameters (names relative to the layer, in order):
//   q_map, k_map [H, dh, dh]                         hedgehog
//   q_proj.weight, k_proj.weight, v_proj.weight [dim, dim]
//   gate.weight [H, dim], gate.bias [H]              scalar decay
//   gate_down.weight [rank, dim], gate_up.weight [H*dk, rank], gate_up.bias [H*dk]   gla
//   o_norm.weight [dh]                               attn_norm=rms
//   out_gate.weight [dim, dim], out_gate.bias [dim]  output gate
//   out.weight [dim, dim], out.bias [dim]
// The fixed decay is a buffer (g_gamma), not a parameter.
//
// Threading: a module instance is used by one thread at a time.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "ml/model_config.h"
#include "ml/rms_norm.h"

namespace murmur::model {

class LinearAttentionImpl : public torch::nn::Module {
 public:
  // `config` must be valid (ValidateModelConfig).
  explicit LinearAttentionImpl(const ModelConfig& config);

  // [B, T, dim] -> [B, T, dim], causal over T.
  torch::Tensor forward(const torch::Tensor& x);

  // Switches between the kernel ops and the ATen reference (same parameters).
  void set_attention_impl(AttentionImpl impl) { config_.attention = impl; }

 private:
  torch::Tensor FeatureMap(const torch::Tensor& x, const torch::Tensor& map_weight) const;
  // The log decay for the op: undefined, [B,T,H] or [B,T,H,dk].
  torch::Tensor Gate(const torch::Tensor& x);
  // Causal linear attention of [B,T,H,*] inputs with the configured decay.
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& g) const;

  ModelConfig config_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr};
  torch::nn::Linear out_{nullptr};
  torch::nn::Linear gate_{nullptr};       // scalar decay
  torch::nn::Linear gate_down_{nullptr};  // gla decay, low rank
  torch::nn::Linear gate_up_{nullptr};
  torch::nn::Linear out_gate_{nullptr};
  RmsNorm o_norm_{nullptr};
  torch::Tensor q_map_, k_map_;  // hedgehog
  torch::Tensor g_gamma_;        // fixed decay (buffer)
};
TORCH_MODULE(LinearAttention);

// The causal linear attention itself, as the model calls it: q, k [B,T,H,dk],
// v [B,T,H,dv]; `g` undefined, [H] (fixed), [B,T,H] (scalar) or [B,T,H,dk]
// (gla); scale 1/sqrt(dk). Exposed for tests and benchmarks.
torch::Tensor CausalLinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& g,
                                    AttentionImpl impl);

}  // namespace murmur::model
