// Examples: a dataset seen as numbered (input, target) training examples.
//
// The data layer (common/data) keeps datasets as plain arrays; the model
// wants tensors. An Examples value is the non-owning view in between:
//   Images(dataset):       example i = image i (normalized pixels) and its label
//   Text(dataset, chunks): example i = chunk i; input = its first L-1 tokens,
//                          target = the L-1 tokens after each (next-char LM)
// A client's shard is a list of example indices (a data::Partition entry).
// batcher.h turns a list of indices into tensors.
//
// Pixel normalization: x = (p / 255 - mean) / stddev; the defaults are the
// Fashion-MNIST training set's pixel mean and standard deviation.
//
// No LibTorch here. The viewed dataset must outlive the Examples. Plain
// value: concurrent reads are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/data/image_dataset.h"
#include "common/data/text_dataset.h"
#include "common/status.h"
#include "ml/model_config.h"

namespace murmur::model {

struct ImageNormalization {
  float mean = 0.2860f;
  float stddev = 0.3530f;
};

class Examples {
 public:
  static Examples Images(const data::ImageDataset& images, ImageNormalization norm = {});
  static Examples Text(const data::TextDataset& text, const data::TextChunks& chunks);

  bool is_image() const { return images_ != nullptr; }
  size_t size() const;

  const data::ImageDataset* images() const { return images_; }
  const data::TextDataset* text() const { return text_; }
  const data::TextChunks* chunks() const { return chunks_; }
  const ImageNormalization& normalization() const { return norm_; }

  // OK when a model built from `config` can train on these examples: task
  // matches; image size and label range (images); vocabulary size and chunk
  // length - 1 <= max_seq_len (text). InvalidArgument saying what differs.
  Status CheckFits(const ModelConfig& config) const;

  // OK when every index is < size(); InvalidArgument naming the first bad one.
  Status CheckIndices(std::span<const uint32_t> indices) const;

 private:
  Examples() = default;

  const data::ImageDataset* images_ = nullptr;
  const data::TextDataset* text_ = nullptr;
  const data::TextChunks* chunks_ = nullptr;
  ImageNormalization norm_;
};

}  // namespace murmur::model
