// Named-tensor files without LibTorch (what the coordinator reads for --init):
// a round trip is exact, a file of another model is FailedPrecondition, a
// missing file NotFound, a damaged one DataLoss, and a write leaves no
// temporary file behind.
#include "common/codec/tensor_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace murmur {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "murmur-tensor-file-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  size_t Count() const {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) n += entry.is_regular_file();
    return n;
  }

 private:
  std::string path_;
};

TensorList TwoTensors(float scale) {
  return {Tensor{"w", {2, 3}, {1.5f * scale, -2, 3, 0.25f, -0.125f, 7}},
          Tensor{"b", {3}, {0, 1e-8f * scale, -1e8f}}};
}

TEST(TensorFileTest, RoundTripIsExactAndAtomic) {
  TempDir dir;
  const std::string path = dir.File("init.mrmt");
  ASSERT_TRUE(WriteTensorFile(path, TwoTensors(1)).ok());
  ASSERT_TRUE(WriteTensorFile(path, TwoTensors(2)).ok());  // replaces it
  EXPECT_EQ(dir.Count(), 1u);
  const ModelSpec spec = SpecOf(TwoTensors(1));
  Result<TensorList> read = ReadTensorFile(path, &spec);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const TensorList expected = TwoTensors(2);
  ASSERT_EQ(read->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*read)[i].name, expected[i].name);
    EXPECT_EQ((*read)[i].data, expected[i].data);
  }
}

TEST(TensorFileTest, ForeignMissingAndDamagedFilesAreClearErrors) {
  TempDir dir;
  const std::string path = dir.File("init.mrmt");
  ASSERT_TRUE(WriteTensorFile(path, TwoTensors(1)).ok());

  ModelSpec other = SpecOf(TwoTensors(1));
  other[0].shape = {3, 2};
  Result<TensorList> foreign = ReadTensorFile(path, &other);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kFailedPrecondition) << foreign.status().ToString();
  EXPECT_NE(foreign.status().message().find(path), std::string::npos);

  Result<TensorList> missing = ReadTensorFile(dir.File("absent.mrmt"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  {  // flip a byte of the values
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(path) / 2));
    f.put('\x5a');
  }
  Result<TensorList> damaged = ReadTensorFile(path);
  EXPECT_EQ(damaged.status().code(), StatusCode::kDataLoss) << damaged.status().ToString();

  EXPECT_FALSE(WriteTensorFile(dir.File("no/such/dir/x.mrmt"), TwoTensors(1)).ok());
}

}  // namespace
}  // namespace murmur
