// Tests for the gzip IDX parser, LoadIdxPair and the Fashion-MNIST loader.
#include "common/data/idx_file.h"

#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "common/data/fashion_mnist.h"
#include "common/data/image_dataset.h"

namespace murmur::data {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

void PutBe32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes IdxBytes(uint32_t magic, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out;
  PutBe32(out, magic);
  for (uint32_t d : dims) PutBe32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

class IdxFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_idx_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string WriteGz(const std::string& name, const Bytes& content) const {
    const std::string path = Path(name);
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (!content.empty()) {
      EXPECT_EQ(gzwrite(f, content.data(), static_cast<unsigned>(content.size())),
                static_cast<int>(content.size()));
    }
    gzclose(f);
    return path;
  }

  std::string WriteRaw(const std::string& name, const Bytes& content) const {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(content.data()),
               static_cast<std::streamsize>(content.size()));
    return path;
  }

  static Bytes ReadRaw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

  // A valid pair: 3 images of 2x3, labels {0, 9, 4}.
  std::pair<std::string, std::string> WriteGoodPair() const {
    Bytes pixels;
    for (int i = 0; i < 18; ++i) pixels.push_back(static_cast<uint8_t>(i * 10));
    return {WriteGz("img.gz", IdxBytes(kIdxMagicImages, {3, 2, 3}, pixels)),
            WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {3}, {0, 9, 4}))};
  }

  fs::path dir_;
};

// Asserts a failed result whose message names `path` and contains `needle`.
template <typename T>
void ExpectErrorNaming(const Result<T>& r, StatusCode code, const std::string& path,
                       const std::string& needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
}

TEST_F(IdxFileTest, ParsesAValidPair) {
  auto [img, lbl] = WriteGoodPair();
  Result<ImageDataset> data = LoadIdxPair(img, lbl);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->size(), 3u);
  EXPECT_EQ(data->rows, 2);
  EXPECT_EQ(data->cols, 3);
  EXPECT_EQ(data->num_classes, 10);
  EXPECT_EQ(data->labels, (Bytes{0, 9, 4}));
  ASSERT_EQ(data->pixels.size(), 18u);
  EXPECT_EQ(data->image(2)[0], 120);
  EXPECT_TRUE(ValidateImageDataset(*data, "test").ok());
}

TEST_F(IdxFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = Path("nope.gz");
  ExpectErrorNaming(ReadIdxGz(path, 1), StatusCode::kNotFound, path, "No such file");
  auto [img, lbl] = WriteGoodPair();
  ExpectErrorNaming(LoadIdxPair(path, lbl), StatusCode::kNotFound, path, "cannot open");
}

TEST_F(IdxFileTest, DirectoryIsRejected) {
  ExpectErrorNaming(ReadIdxGz(dir_.string(), 1), StatusCode::kInvalidArgument, dir_.string(),
                    "not a regular file");
}

TEST_F(IdxFileTest, NotGzipIsRejected) {
  const std::string plain = WriteRaw("plain", IdxBytes(kIdxMagicLabels, {2}, {1, 2}));
  ExpectErrorNaming(ReadIdxGz(plain, 1), StatusCode::kDataLoss, plain, "not a gzip file");
  const std::string empty = WriteRaw("empty", {});
  ExpectErrorNaming(ReadIdxGz(empty, 1), StatusCode::kDataLoss, empty, "empty file");
}

TEST_F(IdxFileTest, BadMagicIsRejected) {
  // A labels file where images are expected.
  const std::string lbl = WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {2}, {1, 2}));
  ExpectErrorNaming(ReadIdxGz(lbl, 3), StatusCode::kDataLoss, lbl, "bad IDX magic 0x00000801");
  const std::string junk = WriteGz("junk.gz", {'h', 'e', 'l', 'l', 'o', '!', '!', '!'});
  ExpectErrorNaming(ReadIdxGz(junk, 1), StatusCode::kDataLoss, junk, "not an IDX file");
  const std::string floats = WriteGz("f.gz", IdxBytes(0x00000D01, {1}, {0, 0, 0, 0}));
  ExpectErrorNaming(ReadIdxGz(floats, 1), StatusCode::kDataLoss, floats, "element type 0x0d");
}

TEST_F(IdxFileTest, TruncatedPayloadIsRejected) {
  // The header promises 5 labels; 4 are there.
  const std::string lbl = WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {5}, {1, 2, 3, 4}));
  ExpectErrorNaming(ReadIdxGz(lbl, 1), StatusCode::kDataLoss, lbl, "needs 5 bytes");
  // Header itself cut short.
  const std::string hdr = WriteGz("hdr.gz", {0, 0, 8, 3, 0, 0});
  ExpectErrorNaming(ReadIdxGz(hdr, 3), StatusCode::kDataLoss, hdr, "IDX dimensions");
}

TEST_F(IdxFileTest, TruncatedGzipStreamIsRejected) {
  Bytes pixels(4000);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7919 >> 3);
  const std::string good = WriteGz("good.gz", IdxBytes(kIdxMagicImages, {10, 20, 20}, pixels));
  Bytes raw = ReadRaw(good);
  raw.erase(raw.begin() + static_cast<std::ptrdiff_t>(raw.size() / 2), raw.end());
  const std::string cut = WriteRaw("cut.gz", raw);
  ExpectErrorNaming(ReadIdxGz(cut, 3), StatusCode::kDataLoss, cut, "truncated gzip stream");
  // Only the 8-byte trailer missing: all data inflates, the end check fails.
  raw = ReadRaw(good);
  ASSERT_GT(raw.size(), 8u);
  raw.erase(raw.end() - 8, raw.end());
  const std::string no_trailer = WriteRaw("notrailer.gz", raw);
  ExpectErrorNaming(ReadIdxGz(no_trailer, 3), StatusCode::kDataLoss, no_trailer, "truncated");
}

TEST_F(IdxFileTest, CorruptCrcIsRejected) {
  const std::string good = WriteGz("good.gz", IdxBytes(kIdxMagicLabels, {4}, {1, 2, 3, 4}));
  Bytes raw = ReadRaw(good);
  raw[raw.size() - 8] ^= 0xff;  // first CRC byte of the trailer
  const std::string bad = WriteRaw("badcrc.gz", raw);
  ExpectErrorNaming(ReadIdxGz(bad, 1), StatusCode::kDataLoss, bad, "corrupt gzip stream");
}

TEST_F(IdxFileTest, TrailingBytesAreRejected) {
  const std::string lbl = WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {3}, {1, 2, 3, 4, 5}));
  ExpectErrorNaming(ReadIdxGz(lbl, 1), StatusCode::kDataLoss, lbl, "2 unexpected trailing bytes");
}

TEST_F(IdxFileTest, CountMismatchNamesBothFiles) {
  const std::string img = WriteGz("img.gz", IdxBytes(kIdxMagicImages, {2, 1, 1}, {7, 8}));
  const std::string lbl = WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {3}, {0, 1, 2}));
  Result<ImageDataset> r = LoadIdxPair(img, lbl);
  ExpectErrorNaming(r, StatusCode::kDataLoss, img, "2 images");
  ExpectErrorNaming(r, StatusCode::kDataLoss, lbl, "3 labels");
}

TEST_F(IdxFileTest, LabelOutOfRangeIsRejected) {
  auto [img, unused] = WriteGoodPair();
  const std::string lbl = WriteGz("bad_lbl.gz", IdxBytes(kIdxMagicLabels, {3}, {0, 10, 4}));
  ExpectErrorNaming(LoadIdxPair(img, lbl), StatusCode::kDataLoss, lbl, "label 10 at index 1");
  // With more classes the same file is fine.
  EXPECT_TRUE(LoadIdxPair(img, lbl, 11).ok());
}

TEST_F(IdxFileTest, AbsurdHeadersAreRejectedBeforeAllocating) {
  // 1e9 images of 28x28 claimed by a file of a few dozen bytes.
  const std::string big = WriteGz("big.gz", IdxBytes(kIdxMagicImages, {1000000000, 28, 28}, {}));
  ExpectErrorNaming(ReadIdxGz(big, 3), StatusCode::kResourceExhausted, big, "over the");
  // Under the hard limit but more than the compressed file could hold.
  const std::string lie = WriteGz("lie.gz", IdxBytes(kIdxMagicImages, {1000, 28, 28}, {1, 2}));
  ExpectErrorNaming(ReadIdxGz(lie, 3), StatusCode::kDataLoss, lie, "header is corrupt");
  // Dimensions whose product overflows 64 bits.
  const std::string ovf = WriteGz(
      "ovf.gz", IdxBytes(0x00000804, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {}));
  ExpectErrorNaming(ReadIdxGz(ovf, 4), StatusCode::kResourceExhausted, ovf, "too many");
  // The image file of a pair is bounded by the label count.
  const std::string lbl = WriteGz("lbl.gz", IdxBytes(kIdxMagicLabels, {1}, {0}));
  const std::string img = WriteGz("img.gz", IdxBytes(kIdxMagicImages, {2, 4096, 4096}, {}));
  ExpectErrorNaming(LoadIdxPair(img, lbl), StatusCode::kResourceExhausted, img, "limit");
}

TEST_F(IdxFileTest, WrongImageSizeIsRejected) {
  auto [img, lbl] = WriteGoodPair();
  ExpectErrorNaming(LoadIdxPair(img, lbl, 10, ImageShape{28, 28}), StatusCode::kDataLoss, img,
                    "images are 2x3, expected 28x28");
  const std::string zero = WriteGz("zero.gz", IdxBytes(kIdxMagicImages, {3, 0, 3}, {}));
  ExpectErrorNaming(LoadIdxPair(zero, lbl), StatusCode::kDataLoss, zero, "implausible");
}

TEST(FashionMnistTest, PathsAndNames) {
  EXPECT_EQ(FashionMnistImagesPath("/d", Split::kTrain), "/d/train-images-idx3-ubyte.gz");
  EXPECT_EQ(FashionMnistLabelsPath("/d", Split::kTest), "/d/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(FashionMnistClassName(9), "Ankle boot");
  EXPECT_EQ(FashionMnistClassName(10), "?");
  Result<ImageDataset> missing = LoadFashionMnist("/nonexistent/fmnist", Split::kTest);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/fmnist/t10k-"), std::string::npos);
}

TEST(FashionMnistTest, LoadsTheRealDataset) {
  if (!fs::exists(FashionMnistImagesPath(kDefaultFashionMnistDir, Split::kTrain))) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  const auto t0 = std::chrono::steady_clock::now();
  Result<ImageDataset> train = LoadFashionMnist(kDefaultFashionMnistDir, Split::kTrain);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  std::printf("Fashion-MNIST train parsed in %.3f s\n", seconds);
  EXPECT_LT(seconds, 5.0);  // ~0.3 s; generous for loaded or sanitized builds
  Result<ImageDataset> test = LoadFashionMnist(kDefaultFashionMnistDir, Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  for (const auto& [data, n] : {std::pair{&*train, 60000u}, std::pair{&*test, 10000u}}) {
    EXPECT_EQ(data->size(), n);
    EXPECT_EQ(data->rows, 28);
    EXPECT_EQ(data->cols, 28);
    EXPECT_EQ(data->num_classes, 10);
    EXPECT_EQ(data->pixels.size(), static_cast<size_t>(n) * 784);
    std::vector<size_t> per_class(10);
    for (uint8_t l : data->labels) ++per_class[l];
    for (size_t c : per_class) EXPECT_EQ(c, n / 10);  // Fashion-MNIST is balanced
  }
  // Images are not blank.
  size_t nonzero = 0;
  for (uint8_t p : train->image(0)) nonzero += p != 0;
  EXPECT_GT(nonzero, 100u);
}

}  // namespace
}  // namespace murmur::data
