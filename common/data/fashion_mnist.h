// Fashion-MNIST: 70,000 28x28 grayscale images of clothing in 10 classes
// (60,000 train, 10,000 test), murmur's default image dataset.
//
// Debian ships it as the package dataset-fashion-mnist, in
// /usr/share/datasets/fashion-mnist as the four original gzip IDX files:
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
//
// Threading: plain functions; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "common/data/image_dataset.h"
#include "common/status.h"

namespace murmur::data {

inline constexpr char kDefaultFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr int kFashionMnistClasses = 10;
inline constexpr int kFashionMnistSide = 28;

enum class Split { kTrain, kTest };

std::string_view SplitName(Split split);  // "train" / "test"

// The paths of a split's image and label files inside `dir`.
std::string FashionMnistImagesPath(const std::string& dir, Split split);
std::string FashionMnistLabelsPath(const std::string& dir, Split split);

// Loads one split: 28x28 images, 10 classes, validated (see LoadIdxPair).
// The train split takes ~0.3 s (inflating 26 MB into 47 MB). NotFound naming the path
// when the files are not there (install dataset-fashion-mnist).
Result<ImageDataset> LoadFashionMnist(const std::string& dir, Split split);

// "T-shirt/top", "Trouser", ... "Ankle boot" for labels 0..9; "?" otherwise.
std::string_view FashionMnistClassName(int label);

}  // namespace murmur::data
