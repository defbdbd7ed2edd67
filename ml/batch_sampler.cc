#include "ml/batch_sampler.h"

#include <algorithm>
#include <utility>

namespace murmur::model {

BatchSampler::BatchSampler(std::span<const uint32_t> indices, Rng rng)
    : order_(indices.begin(), indices.end()), rng_(std::move(rng)) {
  rng_.Shuffle(order_);
}

std::span<const uint32_t> BatchSampler::Next(size_t batch_size) {
  const size_t b = std::min(batch_size, order_.size());
  if (pos_ + b > order_.size()) {
    rng_.Shuffle(order_);
    pos_ = 0;
    ++passes_;
  }
  std::span<const uint32_t> batch(order_.data() + pos_, b);
  pos_ += b;
  return batch;
}

}  // namespace murmur::model
