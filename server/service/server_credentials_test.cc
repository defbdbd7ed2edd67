#include "server/service/server_credentials.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace murmur::server {
namespace {

namespace fs = std::filesystem;

class ServerCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("murmur_creds_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ServerCredentialsTest, NoFilesMeansPlaintext) {
  TlsOptions none;
  EXPECT_FALSE(none.enabled());
  auto creds = MakeServerCredentials(none);
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_NE(*creds, nullptr);
}

TEST_F(ServerCredentialsTest, AMissingFileIsNamed) {
  const std::string key = Write("key.pem", "-----BEGIN PRIVATE KEY-----\nx\n");
  auto creds = MakeServerCredentials({.cert_path = (dir_ / "nope.pem").string(), .key_path = key});
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), StatusCode::kNotFound);
  EXPECT_NE(creds.status().message().find("--tls-cert"), std::string::npos);
  EXPECT_NE(creds.status().message().find("nope.pem"), std::string::npos);
}

TEST_F(ServerCredentialsTest, AFileWithoutPemIsRefused) {
  const std::string cert = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nx\n");
  const std::string key = Write("key.txt", "not a key");
  auto creds = MakeServerCredentials({.cert_path = cert, .key_path = key});
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(creds.status().message().find("--tls-key"), std::string::npos);
  EXPECT_NE(creds.status().message().find("not a PEM"), std::string::npos);
}

TEST_F(ServerCredentialsTest, CertAndKeyGoTogether) {
  const std::string cert = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nx\n");
  auto only_cert = MakeServerCredentials({.cert_path = cert});
  ASSERT_FALSE(only_cert.ok());
  EXPECT_NE(only_cert.status().message().find("--tls-key"), std::string::npos);
  auto only_ca = MakeServerCredentials({.client_ca_path = cert});
  ASSERT_FALSE(only_ca.ok());
  EXPECT_NE(only_ca.status().message().find("--tls-client-ca"), std::string::npos);
}

TEST_F(ServerCredentialsTest, AMissingClientCaIsNamed) {
  const std::string cert = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nx\n");
  const std::string key = Write("key.pem", "-----BEGIN PRIVATE KEY-----\nx\n");
  auto creds = MakeServerCredentials(
      {.cert_path = cert, .key_path = key, .client_ca_path = (dir_ / "ca.pem").string()});
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("--tls-client-ca"), std::string::npos);
  EXPECT_NE(creds.status().message().find("ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace murmur::server
