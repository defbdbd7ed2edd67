#include "common/data/image_dataset.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/data/idx_file.h"

namespace murmur::data {
namespace {

constexpr uint32_t kMaxSide = 4096;

}  // namespace

Result<ImageDataset> LoadIdxPair(const std::string& images_path,
                                 const std::string& labels_path, int num_classes,
                                 ImageShape expected) {
  if (num_classes < 1 || num_classes > 256) {
    return InvalidArgumentError(
        fmt::format("num_classes must be in 1..256 for byte labels, got {}", num_classes));
  }
  // Read the small labels file first: a bad pair fails fast.
  MURMUR_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxGz(labels_path, 1));
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= num_classes) {
      return DataLossError(fmt::format("{}: label {} at index {} is out of range 0..{}",
                                       labels_path, labels.data[i], i, num_classes - 1));
    }
  }
  // Bound the image allocation by what the labels promise, plus the limit.
  IdxLimits limits;
  limits.max_bytes = std::min<uint64_t>(
      limits.max_bytes, uint64_t{labels.dims[0]} * kMaxSide * kMaxSide);
  MURMUR_ASSIGN_OR_RETURN(IdxArray images, ReadIdxGz(images_path, 3, limits));
  const uint32_t n = images.dims[0], rows = images.dims[1], cols = images.dims[2];
  if (rows == 0 || cols == 0 || rows > kMaxSide || cols > kMaxSide) {
    return DataLossError(fmt::format("{}: implausible image size {}x{}", images_path,
                                     rows, cols));
  }
  if ((expected.rows != 0 && rows != static_cast<uint32_t>(expected.rows)) ||
      (expected.cols != 0 && cols != static_cast<uint32_t>(expected.cols))) {
    return DataLossError(fmt::format("{}: images are {}x{}, expected {}x{}", images_path,
                                     rows, cols, expected.rows, expected.cols));
  }
  if (n != labels.dims[0]) {
    return DataLossError(fmt::format("{} holds {} images but {} holds {} labels",
                                     images_path, n, labels_path, labels.dims[0]));
  }
  ImageDataset out;
  out.rows = static_cast<int>(rows);
  out.cols = static_cast<int>(cols);
  out.num_classes = num_classes;
  out.pixels = std::move(images.data);
  out.labels = std::move(labels.data);
  return out;
}

Status ValidateImageDataset(const ImageDataset& data, std::string_view what) {
  if (data.rows <= 0 || data.cols <= 0) {
    return InvalidArgumentError(
        fmt::format("{}: bad image size {}x{}", what, data.rows, data.cols));
  }
  if (data.num_classes < 1 || data.num_classes > 256) {
    return InvalidArgumentError(
        fmt::format("{}: num_classes {} not in 1..256", what, data.num_classes));
  }
  if (data.pixels.size() != data.size() * data.image_size()) {
    return InvalidArgumentError(
        fmt::format("{}: {} pixels for {} images of {}x{}", what, data.pixels.size(),
                    data.size(), data.rows, data.cols));
  }
  for (size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] >= data.num_classes) {
      return InvalidArgumentError(fmt::format("{}: label {} at index {} is out of range 0..{}",
                                              what, data.labels[i], i, data.num_classes - 1));
    }
  }
  return Status::Ok();
}

}  // namespace murmur::data
