#include "client/transport/channel.h"

#include <gtest/gtest.h>

namespace murmur::client {
namespace {

TEST(ChannelTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7070"));
  EXPECT_TRUE(IsLoopbackAddress("ipv4:127.0.0.2:5"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:7070"));
  EXPECT_FALSE(IsLoopbackAddress("coordinator.example:7070"));
}

TEST(ChannelTest, PlaintextBeyondLoopbackNeedsInsecure) {
  ConnectOptions o;
  o.address = "10.1.2.3:7070";
  auto refused = ConnectCoordinator(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--insecure"), std::string::npos);
  o.allow_insecure = true;
  EXPECT_TRUE(ConnectCoordinator(o).ok());
}

TEST(ChannelTest, MissingPemFilesAreNamed) {
  ConnectOptions o;
  o.tls_ca = "/no/such/ca.pem";
  auto r = ConnectCoordinator(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/no/such/ca.pem"), std::string::npos);
  ConnectOptions k;
  k.tls_cert = "x.pem";
  EXPECT_FALSE(ConnectCoordinator(k).ok()) << "a client certificate without a CA";
  EXPECT_EQ(DescribeSecurity(k), "plaintext");
}

}  // namespace
}  // namespace murmur::client
