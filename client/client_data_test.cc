// ClientData from the client's own text directory: the job's vocabulary,
// samples that fit a charlm model, errors that name the path.
#include "client/client_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ml/model_config.h"

namespace murmur::client {
namespace {

namespace fs = std::filesystem;

class ClientTextDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("murmur_client_data_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "texts");
    Write("texts/a.txt", std::string(200, 'a') + "bc\n");
    Write("texts/b.txt", "héllo wörld, " + std::string(100, 'z'));
    Write("texts/b.dat", "index file: skipped");
    Write("vocab.txt", "\n ,abcdehlorwz");  // no 'é', 'ö': they map to the unknown id
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  DataConfig Config() {
    DataConfig c;
    c.text_dir = (dir_ / "texts").string();
    c.vocabulary = (dir_ / "vocab.txt").string();
    c.text_length = 33;
    return c;
  }
  fs::path dir_;
};

TEST_F(ClientTextDataTest, LoadsTheFilesWithTheJobsVocabulary) {
  auto d = ClientData::Load(Config());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  // a.txt: 203 characters -> 6 samples of 33; b.txt: 113 -> 3.
  EXPECT_EQ((*d)->shard().size(), 9u);
  EXPECT_FALSE((*d)->examples().is_image());
  EXPECT_NE((*d)->Describe().find("2 files"), std::string::npos) << (*d)->Describe();
  EXPECT_NE((*d)->Describe().find("2 outside the 15-id vocabulary"), std::string::npos)
      << (*d)->Describe();
  auto fits = model::ParseModelConfig("task=charlm,vocab_size=15,max_seq_len=32,dim=16,heads=2");
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_TRUE((*d)->examples().CheckFits(*fits).ok()) << (*d)->examples().CheckFits(*fits).ToString();
  auto small = model::ParseModelConfig("task=charlm,vocab_size=15,max_seq_len=16,dim=16,heads=2");
  ASSERT_TRUE(small.ok());
  EXPECT_FALSE((*d)->examples().CheckFits(*small).ok()) << "samples longer than the model's context";
}

TEST_F(ClientTextDataTest, ErrorsNameThePath) {
  DataConfig c = Config();
  c.vocabulary = (dir_ / "missing.txt").string();
  auto no_vocab = ClientData::Load(c);
  ASSERT_FALSE(no_vocab.ok());
  EXPECT_NE(no_vocab.status().message().find("missing.txt"), std::string::npos)
      << no_vocab.status().ToString();
  c = Config();
  c.text_dir = (dir_ / "nowhere").string();
  auto no_dir = ClientData::Load(c);
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.status().message().find("nowhere"), std::string::npos)
      << no_dir.status().ToString();
}

}  // namespace
}  // namespace murmur::client
