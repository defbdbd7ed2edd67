#include "ml/model.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <string_view>
#include <vector>

#include "common/rng.h"
#include "kernels/ops/registration.h"

namespace murmur::model {
namespace {

using torch::Tensor;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The values a parameter starts from (see CreateModel).
Result<std::vector<float>> InitialValues(std::string_view name, const Tensor& p, Rng& rng) {
  const int64_t n = p.numel();
  std::vector<float> v(static_cast<size_t>(n), 0.0f);
  if (EndsWith(name, "norm.weight")) {
    std::fill(v.begin(), v.end(), 1.0f);
  } else if (EndsWith(name, ".bias")) {
    // zeros
  } else if (name == "pos_embed") {
    for (float& x : v) x = static_cast<float>(rng.Normal(0.0, 0.02));
  } else if (name == "token_embed.weight") {
    for (float& x : v) x = static_cast<float>(rng.Normal(0.0, 1.0));
  } else if (EndsWith(name, "q_map") || EndsWith(name, "k_map")) {
    const int64_t heads = p.size(0), d = p.size(1);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < d; ++i) v[static_cast<size_t>((h * d + i) * d + i)] = 1.0f;
    }
  } else if (p.dim() == 2) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(p.size(1)));
    for (float& x : v) x = static_cast<float>(rng.Uniform(-bound, bound));
  } else {
    return InternalError(fmt::format("no initialization rule for parameter '{}'", name));
  }
  return v;
}

}  // namespace

BlockImpl::BlockImpl(const ModelConfig& config) {
  const int64_t d = config.dim;
  attn_norm_ = register_module("attn_norm", RmsNorm(d));
  attn_ = register_module("attn", LinearAttention(config));
  mlp_norm_ = register_module("mlp_norm", RmsNorm(d));
  fc1_ = register_module("fc1", torch::nn::Linear(d, config.mlp_ratio * d));
  fc2_ = register_module("fc2", torch::nn::Linear(config.mlp_ratio * d, d));
}

Tensor BlockImpl::forward(const Tensor& x) {
  Tensor h = x + attn_->forward(attn_norm_->forward(x));
  return h + fc2_->forward(at::gelu(fc1_->forward(mlp_norm_->forward(h))));
}

Model::Model(const ModelConfig& config) : config_(config) {
  const int64_t d = config.dim;
  if (config.task == Task::kImage) {
    patch_embed_ =
        register_module("patch_embed", torch::nn::Linear(config.patch * config.patch, d));
  } else {
    token_embed_ = register_module("token_embed", torch::nn::Embedding(config.vocab_size, d));
  }
  pos_embed_ = register_parameter("pos_embed", torch::zeros({config.num_tokens(), d}));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) blocks_->push_back(Block(config));
  final_norm_ = register_module("final_norm", RmsNorm(d));
  const int64_t out = config.task == Task::kImage ? config.num_classes : config.vocab_size;
  head_ = register_module("head", torch::nn::Linear(d, out));
}

Tensor Model::Embed(const Tensor& input) {
  if (config_.task == Task::kImage) {
    const int64_t rows = config_.image_rows, cols = config_.image_cols, p = config_.patch;
    TORCH_CHECK(input.numel() > 0 && input.numel() % (rows * cols) == 0 &&
                    input.size(0) * rows * cols == input.numel(),
                "model: image input must be [B, ", rows, ", ", cols, "] (or [B, 1, ", rows, ", ",
                cols, "] or [B, ", rows * cols, "]), got ", input.sizes());
    TORCH_CHECK(input.is_floating_point(), "model: image input must be floating point, got ",
                input.scalar_type());
    const int64_t b = input.size(0);
    const Tensor patches = input.reshape({b, rows / p, p, cols / p, p})
                               .permute({0, 1, 3, 2, 4})
                               .reshape({b, (rows / p) * (cols / p), p * p});
    return patch_embed_->forward(patches) + pos_embed_;
  }
  TORCH_CHECK(input.dim() == 2 && input.size(1) >= 1 && input.size(1) <= config_.max_seq_len,
              "model: token input must be [B, T] with 1 <= T <= ", config_.max_seq_len, ", got ",
              input.sizes());
  TORCH_CHECK(input.scalar_type() == torch::kLong, "model: token ids must be int64, got ",
              input.scalar_type());
  return token_embed_->forward(input) + pos_embed_.narrow(0, 0, input.size(1));
}

Tensor Model::forward(const Tensor& input) {
  Tensor x = Embed(input);
  for (const auto& block : *blocks_) x = block->as<BlockImpl>()->forward(x);
  x = final_norm_->forward(x);
  if (config_.task == Task::kImage) x = x.mean(1);
  return head_->forward(x);
}

Tensor Model::Loss(const Tensor& logits, const Tensor& targets) const {
  TORCH_CHECK(targets.numel() * logits.size(-1) == logits.numel(),
              "model: targets ", targets.sizes(), " do not match logits ", logits.sizes());
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

Tensor Model::Correct(const Tensor& logits, const Tensor& targets) const {
  return logits.argmax(-1).eq(targets).to(torch::kFloat);
}

void Model::SetAttentionImpl(AttentionImpl impl) {
  config_.attention = impl;
  for (const auto& block : *blocks_) block->as<BlockImpl>()->attn()->set_attention_impl(impl);
}

Status InitializeParameters(Model& model, uint64_t seed) {
  Rng rng(seed);
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    Tensor p = item.value();
    MURMUR_ASSIGN_OR_RETURN(std::vector<float> values, InitialValues(item.key(), p, rng));
    try {
      p.copy_(torch::from_blob(values.data(), p.sizes(), torch::kFloat));
    } catch (const c10::Error& e) {
      return InternalError(fmt::format("initializing '{}': {}", item.key(), e.what_without_backtrace()));
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<Model>> CreateModel(const ModelConfig& config) {
  MURMUR_RETURN_IF_ERROR(ValidateModelConfig(config));
  kernels::EnsureRegistered();
  std::shared_ptr<Model> model;
  try {
    model = std::make_shared<Model>(config);
  } catch (const c10::Error& e) {
    return InternalError(fmt::format("building the model: {}", e.what_without_backtrace()));
  }
  MURMUR_RETURN_IF_ERROR(InitializeParameters(*model, config.init_seed));
  return model;
}

int64_t NumParameters(const Model& model) {
  int64_t n = 0;
  for (const Tensor& p : model.parameters()) n += p.numel();
  return n;
}

std::string DescribeModel(const Model& model) {
  const ModelConfig& c = model.config();
  return fmt::format("{} dim={} depth={} heads={} {}/{}/{}{} ({}), {} params", TaskName(c.task),
                     c.dim, c.depth, c.heads, FeatureMapName(c.feature_map), DecayName(c.decay),
                     AttnNormName(c.attn_norm), c.output_gate ? "+gate" : "",
                     AttentionImplName(c.attention), NumParameters(model));
}

}  // namespace murmur::model
