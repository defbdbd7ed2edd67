#include "ml/examples.h"

#include <fmt/format.h>

#include <cmath>

namespace murmur::model {

Examples Examples::Images(const data::ImageDataset& images, ImageNormalization norm) {
  Examples e;
  e.images_ = &images;
  e.norm_ = norm;
  return e;
}

Examples Examples::Text(const data::TextDataset& text, const data::TextChunks& chunks) {
  Examples e;
  e.text_ = &text;
  e.chunks_ = &chunks;
  return e;
}

size_t Examples::size() const {
  if (images_ != nullptr) return images_->size();
  return chunks_ != nullptr ? chunks_->size() : 0;
}

Status Examples::CheckFits(const ModelConfig& config) const {
  if (is_image()) {
    if (config.task != Task::kImage) {
      return InvalidArgumentError(fmt::format(
          "the examples are images but the model's task is {}", TaskName(config.task)));
    }
    if (images_->rows != config.image_rows || images_->cols != config.image_cols) {
      return InvalidArgumentError(fmt::format(
          "the images are {}x{} but the model expects {}x{}", images_->rows, images_->cols,
          config.image_rows, config.image_cols));
    }
    if (images_->num_classes > config.num_classes) {
      return InvalidArgumentError(fmt::format(
          "the dataset has {} classes but the model only {}", images_->num_classes,
          config.num_classes));
    }
    if (!(norm_.stddev > 0.0f) || !std::isfinite(norm_.mean) || !std::isfinite(norm_.stddev)) {
      return InvalidArgumentError(fmt::format(
          "pixel normalization needs a finite mean and a positive stddev, got {} and {}",
          norm_.mean, norm_.stddev));
    }
    return Status::Ok();
  }
  if (config.task != Task::kCharLm) {
    return InvalidArgumentError(fmt::format(
        "the examples are text chunks but the model's task is {}", TaskName(config.task)));
  }
  if (static_cast<int64_t>(text_->vocab.size()) > config.vocab_size) {
    return InvalidArgumentError(fmt::format(
        "the text's vocabulary has {} ids but the model's vocab_size is {}", text_->vocab.size(),
        config.vocab_size));
  }
  if (chunks_->length < 2) {
    return InvalidArgumentError(fmt::format(
        "text chunks of length {} hold no (input, next token) pair; use length >= 2",
        chunks_->length));
  }
  if (static_cast<int64_t>(chunks_->length) - 1 > config.max_seq_len) {
    return InvalidArgumentError(fmt::format(
        "text chunks of length {} give {} input tokens, over the model's max_seq_len {}",
        chunks_->length, chunks_->length - 1, config.max_seq_len));
  }
  return Status::Ok();
}

Status Examples::CheckIndices(std::span<const uint32_t> indices) const {
  const size_t n = size();
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] >= n) {
      return InvalidArgumentError(fmt::format(
          "example index {} (position {} in the list) is out of range: there are {} examples",
          indices[i], i, n));
    }
  }
  return Status::Ok();
}

}  // namespace murmur::model
