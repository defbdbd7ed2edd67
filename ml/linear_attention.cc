#include "ml/linear_attention.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <cmath>
#include <tuple>

#include "kernels/ops/registration.h"
#include "kernels/reference/reference.h"

namespace murmur::model {
namespace {

using torch::Tensor;

// Divides the attention output by q . z; keeps the divisor away from zero.
constexpr double kDenominatorEps = 1e-6;

Tensor KernelLinearAttn(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g,
                        bool gamma) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("murmur::chunk_linear_attn", "")
                       .typed<std::tuple<Tensor, Tensor>(
                           const Tensor&, const Tensor&, const Tensor&,
                           const c10::optional<Tensor>&, const c10::optional<Tensor>&,
                           c10::optional<double>, const c10::optional<Tensor>&, bool)>();
  c10::optional<Tensor> g_step, g_gamma;
  if (g.defined()) (gamma ? g_gamma : g_step) = g;
  return std::get<0>(op.call(q, k, v, g_step, g_gamma, c10::nullopt, c10::nullopt, false));
}

Tensor KernelGla(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("murmur::chunk_gla", "")
                       .typed<std::tuple<Tensor, Tensor>(
                           const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           c10::optional<double>, const c10::optional<Tensor>&, bool)>();
  return std::get<0>(op.call(q, k, v, g, c10::nullopt, c10::nullopt, false));
}

}  // namespace

Tensor CausalLinearAttention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g,
                             AttentionImpl impl) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const bool per_dim = g.defined() && g.dim() == 4;
  const bool gamma = g.defined() && g.dim() == 1;
  if (impl == AttentionImpl::kKernel) {
    kernels::EnsureRegistered();
    return per_dim ? KernelGla(q, k, v, g) : KernelLinearAttn(q, k, v, g, gamma);
  }
  if (per_dim) {
    // The quadratic form cannot factor per-dimension gates safely; the
    // recurrent loop is the reference for gla.
    return std::get<0>(kernels::reference::Recurrent(q, k, v, g, scale, Tensor()));
  }
  Tensor gate = g;
  if (gamma) gate = g.view({1, 1, -1}).expand({q.size(0), q.size(1), q.size(2)});
  return kernels::reference::Quadratic(q, k, v, gate, scale);
}

LinearAttentionImpl::LinearAttentionImpl(const ModelConfig& config) : config_(config) {
  const int64_t d = config.dim, h = config.heads, dh = config.head_dim(), dk = config.key_dim();
  if (config.feature_map == FeatureMap::kHedgehog) {
    q_map_ = register_parameter("q_map", torch::eye(dh).repeat({h, 1, 1}));
    k_map_ = register_parameter("k_map", torch::eye(dh).repeat({h, 1, 1}));
  }
  // Three projections rather than one fused [3d, d]: each output is already
  // the contiguous [B,T,H,dh] the op takes (no split copies either way).
  const auto proj = torch::nn::LinearOptions(d, d).bias(false);
  q_proj_ = register_module("q_proj", torch::nn::Linear(proj));
  k_proj_ = register_module("k_proj", torch::nn::Linear(proj));
  v_proj_ = register_module("v_proj", torch::nn::Linear(proj));
  switch (config.decay) {
    case Decay::kNone: break;
    case Decay::kFixed: {
      // RetNet's per-head decays: gamma_h = 1 - 2^(-5-h).
      Tensor exponent = -5.0 - torch::arange(h, torch::kFloat);
      g_gamma_ = register_buffer("g_gamma", torch::log1p(-torch::pow(2.0, exponent)));
      break;
    }
    case Decay::kScalar:
      gate_ = register_module("gate", torch::nn::Linear(d, h));
      break;
    case Decay::kGla:
      gate_down_ = register_module(
          "gate_down", torch::nn::Linear(torch::nn::LinearOptions(d, config.gate_rank).bias(false)));
      gate_up_ = register_module("gate_up", torch::nn::Linear(config.gate_rank, h * dk));
      break;
  }
  if (config.attn_norm == AttnNorm::kRms) o_norm_ = register_module("o_norm", RmsNorm(dh));
  if (config.output_gate) out_gate_ = register_module("out_gate", torch::nn::Linear(d, d));
  out_ = register_module("out", torch::nn::Linear(d, d));
}

Tensor LinearAttentionImpl::FeatureMap(const Tensor& x, const Tensor& map_weight) const {
  switch (config_.feature_map) {
    case FeatureMap::kIdentity: return x;
    case FeatureMap::kElu1: return at::elu(x) + 1.0;
    case FeatureMap::kRelu: return at::relu(x);
    case FeatureMap::kHedgehog: {
      Tensor z = at::einsum("bthd,hde->bthe", {x, map_weight});
      return at::cat({at::softmax(z, -1), at::softmax(-z, -1)}, -1);
    }
  }
  return x;
}

Tensor LinearAttentionImpl::Gate(const Tensor& x) {
  const int64_t b = x.size(0), t = x.size(1), h = config_.heads;
  switch (config_.decay) {
    case Decay::kNone: return Tensor();
    case Decay::kFixed: return g_gamma_;
    case Decay::kScalar: return at::log_sigmoid(gate_->forward(x)) / config_.gate_normalizer;
    case Decay::kGla:
      return (at::log_sigmoid(gate_up_->forward(gate_down_->forward(x))) /
              config_.gate_normalizer)
          .view({b, t, h, config_.key_dim()});
  }
  return Tensor();
}

Tensor LinearAttentionImpl::Attend(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& g) const {
  Tensor o = CausalLinearAttention(q, k, v, g, config_.attention);
  if (!config_.bidirectional) return o;
  // The same over the reversed order (anti-causal), flipped back. A
  // per-step gate is reversed with its tokens; a per-head one is not.
  const Tensor g_rev = g.defined() && g.dim() > 1 ? g.flip({1}) : g;
  return o + CausalLinearAttention(q.flip({1}), k.flip({1}), v.flip({1}), g_rev,
                                   config_.attention)
                 .flip({1});
}

Tensor LinearAttentionImpl::forward(const Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == config_.dim, "linear attention: input must be [B, T, ",
              config_.dim, "], got ", x.sizes());
  const int64_t b = x.size(0), t = x.size(1), h = config_.heads, dh = config_.head_dim();
  const Tensor q = FeatureMap(q_proj_->forward(x).view({b, t, h, dh}), q_map_);
  const Tensor k = FeatureMap(k_proj_->forward(x).view({b, t, h, dh}), k_map_);
  const Tensor v = v_proj_->forward(x).view({b, t, h, dh});
  const Tensor g = Gate(x);
  Tensor o;
  if (config_.attn_norm == AttnNorm::kDenominator) {
    // One extra value column of ones: the op then returns q . z (decayed
    // and scaled exactly like the numerator) in the last column.
    const Tensor ov = Attend(q, k, at::cat({v, at::ones({b, t, h, 1}, v.options())}, -1), g);
    o = ov.narrow(-1, 0, dh) / ov.narrow(-1, dh, 1).clamp_min(kDenominatorEps);
  } else {
    o = o_norm_->forward(Attend(q, k, v, g));
  }
  o = o.reshape({b, t, config_.dim});
  if (config_.output_gate) o = o * at::silu(out_gate_->forward(x));
  return out_->forward(o);
}

}  // namespace murmur::model
