// BatchSampler: the deterministic order in which a shard's examples are
// visited during local training.
//
// Batches are drawn without replacement: a fresh Rng-driven permutation per
// pass over the shard; a batch never spans two passes (the remainder of a
// pass is skipped, as with drop_last); a batch larger than the shard is cut
// to the shard's size. Same indices and Rng state, same batches.
//
// No LibTorch here. Threading: one thread uses a sampler at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/rng.h"

namespace murmur::model {

class BatchSampler {
 public:
  // `indices` (the shard) should be non-empty; an empty shard gives empty batches.
  BatchSampler(std::span<const uint32_t> indices, Rng rng);

  // The next min(batch_size, shard size) indices; valid until the next call.
  std::span<const uint32_t> Next(size_t batch_size);

  size_t shard_size() const { return order_.size(); }
  // The shard's indices (in the current pass's order).
  std::span<const uint32_t> indices() const { return order_; }
  // Passes over the shard completed so far (reshuffles).
  uint64_t passes() const { return passes_; }

 private:
  std::vector<uint32_t> order_;
  Rng rng_;
  size_t pos_ = 0;
  uint64_t passes_ = 0;
};

}  // namespace murmur::model
