#include "server/service/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <fmt/format.h>

#include <limits>

#include "server/service/metrics_http.h"

namespace murmur::server {
namespace {

TEST(MetricsRegistry, RendersExactTextFormat) {
  MetricsRegistry r;
  ASSERT_TRUE(r.DeclareCounter("murmur_pushes_total", "Pushes by reason").ok());
  ASSERT_TRUE(r.DeclareGauge("murmur_bytes", "Bytes held\\now\nthen").ok());
  ASSERT_TRUE(r.DeclareHistogram("murmur_latency_seconds", "Latency", {0.5, 1, 2.5}).ok());
  ASSERT_TRUE(r.DeclareGauge("murmur_empty", "No series yet").ok());
  EXPECT_TRUE(r.Add("murmur_pushes_total", {{"reason", "too_stale"}}, 2));
  EXPECT_TRUE(r.Add("murmur_pushes_total", {{"reason", "bad_token"}}));
  EXPECT_TRUE(r.Add("murmur_pushes_total", {{"reason", "bad_token"}}, 3));
  EXPECT_TRUE(r.Set("murmur_bytes", {}, 1048576));
  EXPECT_TRUE(r.Set("murmur_bytes", {{"kind", "a\"b\\c\nd"}}, 0.25));
  for (double v : {0.25, 0.5, 0.75, 3.0}) EXPECT_TRUE(r.Observe("murmur_latency_seconds", v));
  EXPECT_EQ(r.Render(),
            "# HELP murmur_pushes_total Pushes by reason\n"
            "# TYPE murmur_pushes_total counter\n"
            "murmur_pushes_total{reason=\"bad_token\"} 4\n"
            "murmur_pushes_total{reason=\"too_stale\"} 2\n"
            "# HELP murmur_bytes Bytes held\\\\now\\nthen\n"
            "# TYPE murmur_bytes gauge\n"
            "murmur_bytes 1048576\n"
            "murmur_bytes{kind=\"a\\\"b\\\\c\\nd\"} 0.25\n"
            "# HELP murmur_latency_seconds Latency\n"
            "# TYPE murmur_latency_seconds histogram\n"
            "murmur_latency_seconds_bucket{le=\"0.5\"} 2\n"
            "murmur_latency_seconds_bucket{le=\"1\"} 3\n"
            "murmur_latency_seconds_bucket{le=\"2.5\"} 3\n"
            "murmur_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "murmur_latency_seconds_sum 4.5\n"
            "murmur_latency_seconds_count 4\n"
            "# HELP murmur_empty No series yet\n"
            "# TYPE murmur_empty gauge\n");
}

TEST(MetricsRegistry, RefusesBadNamesTypesAndBounds) {
  MetricsRegistry r;
  EXPECT_FALSE(r.DeclareCounter("9lives", "x").ok());
  EXPECT_FALSE(r.DeclareCounter("has-dash", "x").ok());
  ASSERT_TRUE(r.DeclareCounter("c_total", "x").ok());
  EXPECT_EQ(r.DeclareGauge("c_total", "again").code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(r.DeclareHistogram("h", "x", {}).ok());
  EXPECT_FALSE(r.DeclareHistogram("h", "x", {1, 1}).ok());
  EXPECT_FALSE(r.DeclareHistogram("h", "x", {std::numeric_limits<double>::infinity()}).ok());
  EXPECT_FALSE(r.Add("c_total", {}, -1));                // counters only go up
  EXPECT_FALSE(r.Add("c_total", {{"bad-label", "v"}}));  // invalid label name
  EXPECT_FALSE(r.Add("c_total", {{"le", "v"}}));         // reserved
  EXPECT_FALSE(r.Add("undeclared", {}));
  EXPECT_FALSE(r.Observe("c_total", 1));  // not a histogram
  EXPECT_EQ(r.Render(), "# HELP c_total x\n# TYPE c_total counter\n");
}

TEST(MetricsRegistry, FormatsSpecialValues) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsHttp, SplitsHostAndPort) {
  EXPECT_EQ(*SplitHostPort("127.0.0.1:9464"), std::make_pair(std::string("127.0.0.1"), 9464));
  EXPECT_EQ(*SplitHostPort("[::1]:0"), std::make_pair(std::string("::1"), 0));
  EXPECT_FALSE(SplitHostPort("127.0.0.1").ok());
  EXPECT_FALSE(SplitHostPort("::1:80").ok());
  EXPECT_FALSE(SplitHostPort("host:99999").ok());
  EXPECT_FALSE(SplitHostPort(":80").ok());
}

TEST(MetricsHttp, ServesMetricsOnlyAtGetMetrics) {
  int renders = 0;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", [&renders] {
    ++renders;
    return std::string("# HELP m x\n# TYPE m gauge\nm 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "# HELP m x\n# TYPE m gauge\nm 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(client.Get("/other")->status, 404);
  EXPECT_EQ(client.Post("/metrics", "x", "text/plain")->status, 405);
  EXPECT_EQ(renders, 1);
  // A taken port is refused with a reason.
  auto second = MetricsHttpServer::Start(fmt::format("127.0.0.1:{}", (*server)->port()),
                                         [] { return std::string(); });
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace murmur::server
