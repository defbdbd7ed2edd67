// Batches: example indices -> the tensors a Model trains on.
//
// MakeBatch builds, for images, input float [B, rows, cols] with
// (p/255 - mean)/stddev and target int64 [B] class ids; for text, input and
// target int64 [B, L-1] (target = input shifted by one token). Tensors are
// built on the host, then moved to `device`.
// (batch_sampler.h picks the indices.)
//
// Threading: reentrant.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <span>

#include "ml/examples.h"

namespace murmur::model {

struct Batch {
  torch::Tensor input;
  torch::Tensor target;
  int64_t size = 0;  // examples
};

// `indices` must be valid for `examples` (Examples::CheckIndices).
Batch MakeBatch(const Examples& examples, std::span<const uint32_t> indices,
                const torch::Device& device = torch::kCPU);

}  // namespace murmur::model
