// ImageDataset: a labelled set of 8-bit grayscale images in plain arrays.
//
// This is the data layer's image type: no LibTorch here; the model code turns
// it into tensors (pixels / 255 etc.) when it trains. Images are stored
// image-major, each rows*cols pixels row-major, so image i is the span
// pixels[i*rows*cols, (i+1)*rows*cols). Labels are class ids 0..num_classes-1.
//
// LoadIdxPair reads a pair of gzip IDX files (images: magic 0x00000803, shape
// [n, rows, cols]; labels: magic 0x00000801, shape [n]) and checks they agree.
//
// Threading: an ImageDataset is a plain value; concurrent reads are safe.
// The functions here are safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace murmur::data {

struct ImageDataset {
  int rows = 0;
  int cols = 0;
  int num_classes = 0;
  std::vector<uint8_t> pixels;  // size() * rows * cols
  std::vector<uint8_t> labels;  // size() entries, each < num_classes

  size_t size() const { return labels.size(); }
  size_t image_size() const { return static_cast<size_t>(rows) * static_cast<size_t>(cols); }
  std::span<const uint8_t> image(size_t i) const {
    return std::span<const uint8_t>(pixels).subspan(i * image_size(), image_size());
  }
};

struct ImageShape {
  int rows = 0;  // 0: any
  int cols = 0;  // 0: any
};

// Loads images and labels from two gzip IDX files. Fails (naming the path) if
// either is missing or corrupt, if the image size is not `expected` (when set)
// or above 4096x4096, if the counts differ, or if a label is >= num_classes.
Result<ImageDataset> LoadIdxPair(const std::string& images_path,
                                 const std::string& labels_path, int num_classes = 10,
                                 ImageShape expected = {});

// Checks the invariants above on an in-memory dataset (e.g. one built by a
// test or a subset). `what` names it in the error.
Status ValidateImageDataset(const ImageDataset& data, std::string_view what);

}  // namespace murmur::data
