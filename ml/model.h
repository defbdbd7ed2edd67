// Model: murmur's linear-attention transformer (a torch::nn::Module).
//
//   image:  [B, rows, cols] pixels -> patch x patch tokens (row-major patch
//           order, each patch flattened row-major) -> patch_embed (Linear)
//           + pos_embed
//   charlm: [B, T] token ids (int64) -> token_embed (Embedding) + pos_embed[:T]
//   then depth x Block: x += attn(attn_norm(x)); x += fc2(gelu(fc1(mlp_norm(x))))
//   then final_norm, and
//   image:  mean over tokens -> head -> [B, num_classes] logits
//   charlm: head at every position -> [B, T, vocab_size] next-token logits
// Attention is causal over the token order in both tasks.
//
// Parameter names (named_parameters order, which is the TensorList order;
// as in PyTorch, a module's own parameters precede its submodules'):
//   pos_embed [tokens, dim]
//   patch_embed.weight [dim, patch^2], patch_embed.bias [dim]  | token_embed.weight [V, dim]
//   blocks.{i}.attn_norm.weight, blocks.{i}.attn.* (linear_attention.h),
//   blocks.{i}.mlp_norm.weight, blocks.{i}.fc1.{weight,bias}, blocks.{i}.fc2.{weight,bias}
//   final_norm.weight, head.weight, head.bias
// A PyTorch module with these names and the same forward reproduces the
// model exactly (see ml/README.md).
//
// Build models with CreateModel: it validates the config, initializes the
// parameters deterministically from config.init_seed with murmur::Rng
// (the same on every machine, no global torch RNG), and never throws.
// forward() may throw c10::Error on a malformed input; callers at module
// boundaries (the trainer) catch it.
//
// Threading: a Model is used by one thread at a time (forward/backward
// mutate autograd state); separate models are independent.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "ml/linear_attention.h"
#include "ml/model_config.h"
#include "ml/rms_norm.h"

namespace murmur::model {

// One pre-norm residual block: linear attention, then an MLP.
// Threading: one thread at a time.
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  LinearAttention& attn() { return attn_; }

 private:
  RmsNorm attn_norm_{nullptr};
  LinearAttention attn_{nullptr};
  RmsNorm mlp_norm_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Block);

class Model : public torch::nn::Module {
 public:
  // Prefer CreateModel (validates, initializes, never throws).
  explicit Model(const ModelConfig& config);

  // Logits; see the header comment for shapes. Image inputs may also be
  // [B, 1, rows, cols] or [B, rows*cols].
  torch::Tensor forward(const torch::Tensor& input);

  // Mean cross-entropy of `logits` against `targets` (class ids [B], or next
  // token ids [B, T] for charlm).
  torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& targets) const;

  // Predicted class (argmax) matches per target, as a float tensor of 0/1
  // with the targets' shape.
  torch::Tensor Correct(const torch::Tensor& logits, const torch::Tensor& targets) const;

  const ModelConfig& config() const { return config_; }

  // Switches every layer between the kernel ops and the ATen reference.
  void SetAttentionImpl(AttentionImpl impl);

 private:
  torch::Tensor Embed(const torch::Tensor& input);

  ModelConfig config_;
  torch::nn::Linear patch_embed_{nullptr};
  torch::nn::Embedding token_embed_{nullptr};
  torch::Tensor pos_embed_;
  torch::nn::ModuleList blocks_{nullptr};
  RmsNorm final_norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

// Validates `config`, builds the model and initializes it from
// config.init_seed:
//   *norm.weight = 1; biases = 0; pos_embed ~ N(0, 0.02^2);
//   token_embed ~ N(0, 1); hedgehog maps = identity;
//   other weights [out, in] ~ U(-1/sqrt(in), 1/sqrt(in)).
Result<std::shared_ptr<Model>> CreateModel(const ModelConfig& config);

// Re-draws every parameter from `seed` with the rules above.
Status InitializeParameters(Model& model, uint64_t seed);

int64_t NumParameters(const Model& model);

// "image dim=64 depth=2 heads=4 identity/none/rms, 105,098 params".
std::string DescribeModel(const Model& model);

}  // namespace murmur::model
