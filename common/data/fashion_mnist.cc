#include "common/data/fashion_mnist.h"

#include <array>

#include <fmt/format.h>

namespace murmur::data {
namespace {

std::string_view FilePrefix(Split split) { return split == Split::kTrain ? "train" : "t10k"; }

}  // namespace

std::string_view SplitName(Split split) { return split == Split::kTrain ? "train" : "test"; }

std::string FashionMnistImagesPath(const std::string& dir, Split split) {
  return fmt::format("{}/{}-images-idx3-ubyte.gz", dir, FilePrefix(split));
}

std::string FashionMnistLabelsPath(const std::string& dir, Split split) {
  return fmt::format("{}/{}-labels-idx1-ubyte.gz", dir, FilePrefix(split));
}

Result<ImageDataset> LoadFashionMnist(const std::string& dir, Split split) {
  return LoadIdxPair(FashionMnistImagesPath(dir, split), FashionMnistLabelsPath(dir, split),
                     kFashionMnistClasses, ImageShape{kFashionMnistSide, kFashionMnistSide});
}

std::string_view FashionMnistClassName(int label) {
  static constexpr std::array<std::string_view, kFashionMnistClasses> kNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (label < 0 || label >= kFashionMnistClasses) return "?";
  return kNames[static_cast<size_t>(label)];
}

}  // namespace murmur::data
