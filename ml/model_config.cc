#include "ml/model_config.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace murmur::model {
namespace {

template <typename E, size_t N>
Result<E> ParseEnum(std::string_view what, std::string_view name,
                    const std::array<std::pair<std::string_view, E>, N>& table) {
  std::string choices;
  for (const auto& [n, e] : table) {
    if (n == name) return e;
    choices += choices.empty() ? "" : ", ";
    choices += n;
  }
  return InvalidArgumentError(
      fmt::format("unknown {} '{}' (choose one of: {})", what, name, choices));
}

template <typename E, size_t N>
std::string_view EnumName(E e, const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [n, v] : table) {
    if (v == e) return n;
  }
  return "?";
}

constexpr std::array<std::pair<std::string_view, Task>, 2> kTasks{{
    {"image", Task::kImage},
    {"charlm", Task::kCharLm},
}};
constexpr std::array<std::pair<std::string_view, FeatureMap>, 4> kFeatureMaps{{
    {"identity", FeatureMap::kIdentity},
    {"elu1", FeatureMap::kElu1},
    {"relu", FeatureMap::kRelu},
    {"hedgehog", FeatureMap::kHedgehog},
}};
constexpr std::array<std::pair<std::string_view, Decay>, 4> kDecays{{
    {"none", Decay::kNone},
    {"fixed", Decay::kFixed},
    {"scalar", Decay::kScalar},
    {"gla", Decay::kGla},
}};
constexpr std::array<std::pair<std::string_view, AttnNorm>, 2> kNorms{{
    {"rms", AttnNorm::kRms},
    {"denominator", AttnNorm::kDenominator},
}};
constexpr std::array<std::pair<std::string_view, AttentionImpl>, 2> kImpls{{
    {"kernel", AttentionImpl::kKernel},
    {"reference", AttentionImpl::kReference},
}};

Result<int64_t> ParseInt(std::string_view key, std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgumentError(fmt::format("model option {}: '{}' is not an integer", key, text));
  }
  return v;
}

Result<double> ParseDouble(std::string_view key, std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return InvalidArgumentError(
        fmt::format("model option {}: '{}' is not a finite number", key, text));
  }
  return v;
}

Result<bool> ParseBool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  return InvalidArgumentError(
      fmt::format("model option {}: '{}' is not a boolean (true/false)", key, text));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status Positive(std::string_view field, int64_t v, int64_t max) {
  if (v < 1 || v > max) {
    return InvalidArgumentError(
        fmt::format("model config: {} must be in [1, {}], got {}", field, max, v));
  }
  return Status::Ok();
}

}  // namespace

std::string_view TaskName(Task t) { return EnumName(t, kTasks); }
std::string_view FeatureMapName(FeatureMap f) { return EnumName(f, kFeatureMaps); }
std::string_view DecayName(Decay d) { return EnumName(d, kDecays); }
std::string_view AttnNormName(AttnNorm n) { return EnumName(n, kNorms); }
std::string_view AttentionImplName(AttentionImpl a) { return EnumName(a, kImpls); }
Result<Task> ParseTask(std::string_view n) { return ParseEnum("task", n, kTasks); }
Result<FeatureMap> ParseFeatureMap(std::string_view n) {
  return ParseEnum("feature map", n, kFeatureMaps);
}
Result<Decay> ParseDecay(std::string_view n) { return ParseEnum("decay", n, kDecays); }
Result<AttnNorm> ParseAttnNorm(std::string_view n) {
  return ParseEnum("attention norm", n, kNorms);
}
Result<AttentionImpl> ParseAttentionImpl(std::string_view n) {
  return ParseEnum("attention implementation", n, kImpls);
}

int64_t ModelConfig::num_tokens() const {
  if (task == Task::kCharLm) return max_seq_len;
  return patch > 0 ? (image_rows / patch) * (image_cols / patch) : 0;
}

ModelConfig DefaultImageConfig() { return ModelConfig{}; }

ModelConfig DefaultCharLmConfig(int64_t vocab_size) {
  ModelConfig c;
  c.task = Task::kCharLm;
  c.dim = 128;
  c.depth = 2;
  c.heads = 4;
  c.decay = Decay::kScalar;
  c.vocab_size = vocab_size;
  c.max_seq_len = 256;
  return c;
}

Status ValidateModelConfig(const ModelConfig& c) {
  MURMUR_RETURN_IF_ERROR(Positive("dim", c.dim, 1 << 16));
  MURMUR_RETURN_IF_ERROR(Positive("depth", c.depth, 256));
  MURMUR_RETURN_IF_ERROR(Positive("heads", c.heads, c.dim));
  MURMUR_RETURN_IF_ERROR(Positive("mlp_ratio", c.mlp_ratio, 64));
  if (c.dim % c.heads != 0) {
    return InvalidArgumentError(fmt::format(
        "model config: dim ({}) must be a multiple of heads ({})", c.dim, c.heads));
  }
  // The kernels keep one head's state in cache: head dims up to 256.
  if (c.key_dim() > 256 || c.head_dim() + 1 > 256) {
    return InvalidArgumentError(fmt::format(
        "model config: the head dimension (dim / heads = {}, key dim {} with feature map {}) "
        "must stay below 256; use more heads",
        c.head_dim(), c.key_dim(), FeatureMapName(c.feature_map)));
  }
  if (c.attn_norm == AttnNorm::kDenominator && c.feature_map == FeatureMap::kIdentity) {
    return InvalidArgumentError(
        "model config: attn_norm=denominator needs a non-negative feature map (elu1, relu or "
        "hedgehog); identity keys make q . sum k change sign");
  }
  if ((c.decay == Decay::kScalar || c.decay == Decay::kGla) &&
      !(c.gate_normalizer >= 1.0 && c.gate_normalizer <= 1e6)) {
    return InvalidArgumentError(fmt::format(
        "model config: gate_normalizer must be in [1, 1e6], got {}", c.gate_normalizer));
  }
  if (c.decay == Decay::kGla) MURMUR_RETURN_IF_ERROR(Positive("gate_rank", c.gate_rank, 4096));
  if (c.task == Task::kImage) {
    MURMUR_RETURN_IF_ERROR(Positive("image_rows", c.image_rows, 4096));
    MURMUR_RETURN_IF_ERROR(Positive("image_cols", c.image_cols, 4096));
    MURMUR_RETURN_IF_ERROR(Positive("patch", c.patch, 4096));
    MURMUR_RETURN_IF_ERROR(Positive("num_classes", c.num_classes, 1 << 20));
    if (c.image_rows % c.patch != 0 || c.image_cols % c.patch != 0) {
      return InvalidArgumentError(fmt::format(
          "model config: patch ({}) must divide the image size {}x{}", c.patch, c.image_rows,
          c.image_cols));
    }
    if (c.num_classes < 2) {
      return InvalidArgumentError("model config: num_classes must be at least 2");
    }
  } else {
    if (c.bidirectional) {
      return InvalidArgumentError(
          "model config: bidirectional attention would let a language model see the future; "
          "it is for task=image only");
    }
    if (c.vocab_size < 2 || c.vocab_size > (1 << 24)) {
      return InvalidArgumentError(fmt::format(
          "model config: vocab_size must be in [2, 2^24] for task=charlm, got {} (set it from "
          "the dataset's vocabulary)",
          c.vocab_size));
    }
    MURMUR_RETURN_IF_ERROR(Positive("max_seq_len", c.max_seq_len, 1 << 20));
  }
  return Status::Ok();
}

Status SetModelOption(ModelConfig* c, std::string_view key_in, std::string_view value_in) {
  std::string key(Trim(key_in));
  for (char& ch : key) {
    if (ch == '-') ch = '_';
  }
  const std::string_view value = Trim(value_in);
  auto set_int = [&](int64_t* field) -> Status {
    MURMUR_ASSIGN_OR_RETURN(*field, ParseInt(key, value));
    return Status::Ok();
  };
  if (key == "task") {
    MURMUR_ASSIGN_OR_RETURN(c->task, ParseTask(value));
  } else if (key == "dim") {
    return set_int(&c->dim);
  } else if (key == "depth") {
    return set_int(&c->depth);
  } else if (key == "heads") {
    return set_int(&c->heads);
  } else if (key == "mlp_ratio") {
    return set_int(&c->mlp_ratio);
  } else if (key == "feature_map") {
    MURMUR_ASSIGN_OR_RETURN(c->feature_map, ParseFeatureMap(value));
  } else if (key == "decay") {
    MURMUR_ASSIGN_OR_RETURN(c->decay, ParseDecay(value));
  } else if (key == "attn_norm") {
    MURMUR_ASSIGN_OR_RETURN(c->attn_norm, ParseAttnNorm(value));
  } else if (key == "output_gate") {
    MURMUR_ASSIGN_OR_RETURN(c->output_gate, ParseBool(key, value));
  } else if (key == "bidirectional") {
    MURMUR_ASSIGN_OR_RETURN(c->bidirectional, ParseBool(key, value));
  } else if (key == "gate_normalizer") {
    MURMUR_ASSIGN_OR_RETURN(c->gate_normalizer, ParseDouble(key, value));
  } else if (key == "gate_rank") {
    return set_int(&c->gate_rank);
  } else if (key == "attention") {
    MURMUR_ASSIGN_OR_RETURN(c->attention, ParseAttentionImpl(value));
  } else if (key == "image_rows") {
    return set_int(&c->image_rows);
  } else if (key == "image_cols") {
    return set_int(&c->image_cols);
  } else if (key == "patch") {
    return set_int(&c->patch);
  } else if (key == "num_classes") {
    return set_int(&c->num_classes);
  } else if (key == "vocab_size") {
    return set_int(&c->vocab_size);
  } else if (key == "max_seq_len") {
    return set_int(&c->max_seq_len);
  } else if (key == "init_seed") {
    MURMUR_ASSIGN_OR_RETURN(int64_t seed, ParseInt(key, value));
    c->init_seed = static_cast<uint64_t>(seed);
  } else {
    return InvalidArgumentError(fmt::format(
        "unknown model option '{}' (known: task, dim, depth, heads, mlp_ratio, feature_map, "
        "decay, attn_norm, output_gate, bidirectional, gate_normalizer, gate_rank, attention, image_rows, "
        "image_cols, patch, num_classes, vocab_size, max_seq_len, init_seed)",
        key));
  }
  return Status::Ok();
}

Result<ModelConfig> ParseModelConfig(std::string_view text, const ModelConfig& base) {
  ModelConfig c = base;
  while (!Trim(text).empty()) {
    const size_t comma = text.find(',');
    std::string_view item = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgumentError(
          fmt::format("model config: '{}' is not key=value (e.g. dim=64)", item));
    }
    MURMUR_RETURN_IF_ERROR(SetModelOption(&c, item.substr(0, eq), item.substr(eq + 1)));
  }
  MURMUR_RETURN_IF_ERROR(ValidateModelConfig(c));
  return c;
}

std::string ModelConfigToString(const ModelConfig& c) {
  return fmt::format(
      "task={},dim={},depth={},heads={},mlp_ratio={},feature_map={},decay={},attn_norm={},"
      "output_gate={},bidirectional={},gate_normalizer={},gate_rank={},attention={},image_rows={},"
      "image_cols={},patch={},num_classes={},vocab_size={},max_seq_len={},init_seed={}",
      TaskName(c.task), c.dim, c.depth, c.heads, c.mlp_ratio, FeatureMapName(c.feature_map),
      DecayName(c.decay), AttnNormName(c.attn_norm), c.output_gate ? "true" : "false",
      c.bidirectional ? "true" : "false",
      c.gate_normalizer, c.gate_rank, AttentionImplName(c.attention), c.image_rows,
      c.image_cols, c.patch, c.num_classes, c.vocab_size, c.max_seq_len,
      static_cast<int64_t>(c.init_seed));
}

}  // namespace murmur::model
