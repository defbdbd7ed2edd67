// Tests for the UTF-8 text loader, the fortunes corpus and ChunkText.
#include "common/data/text_dataset.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "common/data/partition.h"
#include "common/data/partitioners.h"

namespace murmur::data {
namespace {

namespace fs = std::filesystem;

class TextDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_text_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  fs::path dir_;
};

TEST_F(TextDatasetTest, LoadsAFileAsCodePointTokens) {
  const std::string text = "héllo wörld\n€ ok\n";
  const std::string path = Write("a.txt", text);
  Result<TextDataset> data = LoadTextFile(path);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->size(), 17u);  // code points, not bytes (the text has 21 bytes)
  ASSERT_EQ(data->sources.size(), 1u);
  EXPECT_EQ(data->sources[0].name, "a.txt");
  EXPECT_EQ(data->sources[0].path, path);
  EXPECT_EQ(data->vocab.Decode(data->tokens), text);
  for (uint32_t t : data->tokens) EXPECT_NE(t, Vocabulary::kUnknownId);
}

TEST_F(TextDatasetTest, DropsALeadingBom) {
  Result<TextDataset> data = LoadTextFile(Write("bom.txt", "\xEF\xBB\xBFhi"));
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->vocab.Decode(data->tokens), "hi");
}

TEST_F(TextDatasetTest, RejectsInvalidUtf8WithPathAndOffset) {
  const std::string path = Write("bad.txt", "line one\nab\xC3\x28");
  Result<TextDataset> data = LoadTextFile(path);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), StatusCode::kInvalidArgument);
  const std::string msg = data.status().message();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid UTF-8 at byte offset 11 (line 2)"), std::string::npos) << msg;
}

TEST_F(TextDatasetTest, MissingEmptyAndDirectoryAreErrors) {
  const std::string missing = (dir_ / "missing.txt").string();
  Result<TextDataset> r = LoadTextFile(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(missing), std::string::npos);

  const std::string empty = Write("empty.txt", "");
  r = LoadTextFile(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(empty), std::string::npos);
  EXPECT_NE(r.status().message().find("no text"), std::string::npos);

  r = LoadTextFile(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a regular file"), std::string::npos);
}

TEST_F(TextDatasetTest, SeveralFilesShareOneVocabulary) {
  const std::vector<std::string> paths = {Write("x", "abc"), Write("y", ""), Write("z", "cdé")};
  Result<TextDataset> data = LoadTextFiles(paths);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->sources.size(), 3u);
  EXPECT_EQ(data->sources[0].begin, 0u);
  EXPECT_EQ(data->sources[0].end, 3u);
  EXPECT_EQ(data->sources[1].size(), 0u);
  EXPECT_EQ(data->sources[2].begin, 3u);
  EXPECT_EQ(data->sources[2].end, 6u);
  EXPECT_EQ(data->vocab.size(), 6u);  // a b c d é + unknown
  EXPECT_EQ(data->vocab.Decode(data->source_tokens(2)), "cdé");
  EXPECT_EQ(data->tokens[2], data->tokens[3]);  // 'c' in both files
}

TEST_F(TextDatasetTest, AGivenVocabularyMapsUnknownCharacters) {
  const Vocabulary vocab = Vocabulary::FromCodePoints(U"ab");
  Result<TextDataset> data = LoadTextFile(Write("t", "abz"), &vocab);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->vocab.size(), 3u);
  EXPECT_EQ(data->tokens, (std::vector<uint32_t>{1, 2, Vocabulary::kUnknownId}));
}

TEST_F(TextDatasetTest, ChunksNeverCrossSources) {
  const std::vector<std::string> paths = {Write("a", "0123456789"), Write("b", "abc"),
                                          Write("c", "ABCDEFG")};
  Result<TextDataset> data = LoadTextFiles(paths);
  ASSERT_TRUE(data.ok());
  Result<TextChunks> chunks = ChunkText(*data, 4);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(chunks->length, 4u);
  EXPECT_EQ(chunks->starts, (std::vector<size_t>{0, 4, 13}));
  EXPECT_EQ(chunks->source, (std::vector<uint32_t>{0, 0, 2}));
  EXPECT_FALSE(ChunkText(*data, 0).ok());
}

TEST(FortunesTest, LoadsTheDebianCorpusOneSourcePerFile) {
  if (!fs::is_directory(kDefaultFortunesDir)) {
    GTEST_SKIP() << "no " << kDefaultFortunesDir << " (install the Debian package fortunes)";
  }
  Result<std::vector<std::string>> files = ListFortuneFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_GE(files->size(), 1u);
  for (const std::string& f : *files) {
    EXPECT_FALSE(f.ends_with(".dat")) << f;
    EXPECT_FALSE(f.ends_with(".u8")) << f;
  }
  Result<TextDataset> data = LoadFortunes();
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->sources.size(), files->size());
  for (size_t s = 0; s < data->sources.size(); ++s) {
    EXPECT_GT(data->sources[s].size(), 0u) << data->sources[s].name;
  }
  // The tokens decode back to the exact file contents.
  Result<std::string> first = ReadUtf8File(files->front());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(data->vocab.Decode(data->source_tokens(0)), *first);
  EXPECT_GT(data->vocab.size(), 60u);

  // A natural partition: one client per fortune file.
  Result<TextChunks> chunks = ChunkText(*data, 128);
  ASSERT_TRUE(chunks.ok());
  Result<Partition> p = PartitionNatural(chunks->source, data->sources.size());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(ValidatePartition(*p, chunks->size()).ok());
  Result<LabelCounts> counts =
      LabelHistogram(*p, chunks->source, static_cast<int>(data->sources.size()));
  ASSERT_TRUE(counts.ok());
  const PartitionStats stats = ComputePartitionStats(*counts);
  EXPECT_EQ(stats.max_labels, 1u);
  std::printf("fortunes: %zu files, %zu code points, vocabulary %zu\n%s",
              data->sources.size(), data->size(), data->vocab.size(),
              SummarizePartition(*counts, 5).c_str());
}

TEST(FortunesTest, MissingDirectoryNamesIt) {
  Result<TextDataset> r = LoadFortunes("/nonexistent/fortunes");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/fortunes"), std::string::npos);
}

}  // namespace
}  // namespace murmur::data
