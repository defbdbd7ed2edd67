#include "ml/batcher.h"

#include <array>
#include <cstring>

namespace murmur::model {

Batch MakeBatch(const Examples& examples, std::span<const uint32_t> indices,
                const torch::Device& device) {
  const int64_t b = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.size = b;
  if (examples.is_image()) {
    const data::ImageDataset& d = *examples.images();
    const ImageNormalization& norm = examples.normalization();
    std::array<float, 256> lut;
    for (int p = 0; p < 256; ++p) {
      lut[static_cast<size_t>(p)] = (static_cast<float>(p) / 255.0f - norm.mean) / norm.stddev;
    }
    batch.input = torch::empty({b, d.rows, d.cols}, torch::kFloat);
    batch.target = torch::empty({b}, torch::kLong);
    float* x = batch.input.data_ptr<float>();
    int64_t* y = batch.target.data_ptr<int64_t>();
    const size_t pixels = d.image_size();
    for (int64_t i = 0; i < b; ++i) {
      const auto image = d.image(indices[static_cast<size_t>(i)]);
      float* row = x + static_cast<size_t>(i) * pixels;
      for (size_t j = 0; j < pixels; ++j) row[j] = lut[image[j]];
      y[i] = d.labels[indices[static_cast<size_t>(i)]];
    }
  } else {
    const data::TextDataset& text = *examples.text();
    const data::TextChunks& chunks = *examples.chunks();
    const int64_t t = static_cast<int64_t>(chunks.length) - 1;
    batch.input = torch::empty({b, t}, torch::kLong);
    batch.target = torch::empty({b, t}, torch::kLong);
    int64_t* x = batch.input.data_ptr<int64_t>();
    int64_t* y = batch.target.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      const uint32_t* tokens = text.tokens.data() + chunks.starts[indices[static_cast<size_t>(i)]];
      for (int64_t j = 0; j < t; ++j) {
        x[i * t + j] = tokens[j];
        y[i * t + j] = tokens[j + 1];
      }
    }
  }
  if (!device.is_cpu()) {
    batch.input = batch.input.to(device);
    batch.target = batch.target.to(device);
  }
  return batch;
}

}  // namespace murmur::model
