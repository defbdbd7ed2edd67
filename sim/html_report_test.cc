#include "sim/html_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/plots.h"

namespace murmur::sim {
namespace {

namespace fs = std::filesystem;

RunResult MakeRun(const std::string& label, uint64_t seed, double final_acc) {
  RunResult r;
  r.label = label;
  r.strategy = "fedau";
  r.seed = seed;
  r.true_p = {0.1, 0.9, 0.5};
  for (uint64_t v = 1; v <= 4; ++v) {
    RoundRow row;
    row.version = v;
    row.sim_time_s = 60.0 * static_cast<double>(v - 1);
    row.accuracy = 0.1 + (final_acc - 0.1) * static_cast<double>(v - 1) / 3;
    row.loss = 2.0 / static_cast<double>(v);
    if (v > 1) row.clients = {static_cast<uint32_t>(v % 3)};
    r.rows.push_back(row);
  }
  return r;
}

TEST(HtmlReportTest, Base64MatchesKnownEncodings) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(HtmlReportTest, EscapesMarkup) {
  EXPECT_EQ(HtmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(FileSafe("FedAvg (all)/x"), "FedAvg__all__x");
}

TEST(HtmlReportTest, TableAveragesSeedsAndEmbedsFigures) {
  ExperimentConfig e;
  e.name = "t<1>";
  e.seeds = {1, 2};
  e.rounds = 3;
  const fs::path dir = fs::path(testing::TempDir()) / "html_report_test";
  fs::create_directories(dir);
  const fs::path svg = dir / "fig.svg";
  std::ofstream(svg) << "<svg xmlns='http://www.w3.org/2000/svg'></svg>";
  auto html = HtmlReport(e, {MakeRun("A", 1, 0.5), MakeRun("A", 2, 0.7), MakeRun("B&", 1, 0.3)},
                         {{"Figure one", svg.string()}}, "a note");
  ASSERT_TRUE(html.ok()) << html.status().ToString();
  EXPECT_NE(html->find("<title>murmur-sim: t&lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html->find("<td>A</td><td>fedau</td><td>2</td><td>0.6000 <small>(0.500&ndash;0.700)</small></td><td>0.6000 <small>"
                       "(0.500&ndash;0.700)</small></td><td>0.5000 <small>(0.500&ndash;0.500)"),
            std::string::npos)
      << *html;
  EXPECT_NE(html->find("<td>B&amp;</td>"), std::string::npos);
  EXPECT_NE(html->find("src=\"data:image/svg+xml;base64," +
                       Base64("<svg xmlns='http://www.w3.org/2000/svg'></svg>") + "\""),
            std::string::npos);
  EXPECT_NE(html->find("a note"), std::string::npos);
  auto missing = HtmlReport(e, {}, {{"gone", (dir / "nope.svg").string()}}, "");
  EXPECT_FALSE(missing.ok());
}

TEST(PlotsTest, GnuplotDrawsAccuracyAndParticipation) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "gnuplot is not installed (Debian package gnuplot-nox)";
  }
  ExperimentConfig e;
  e.name = "plots";
  const fs::path dir = fs::path(testing::TempDir()) / "plots_test";
  fs::remove_all(dir);
  auto figs = DrawPlots(e, {MakeRun("A", 1, 0.5), MakeRun("B", 1, 0.3)}, dir.string());
  ASSERT_TRUE(figs.ok()) << figs.status().ToString();
  ASSERT_EQ(figs->size(), 4u);  // two accuracy plots, a heatmap per strategy
  for (const Figure& f : *figs) {
    std::ifstream in(f.path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("<svg"), std::string::npos) << f.path;
  }
  // Rows are clients sorted by p_n (0.9, 0.5, 0.1: clients 1, 2, 0); versions 2, 3, 4
  // (rounds 1, 2, 3) were made by clients 2, 0, 1.
  std::ifstream heat(dir / "plots" / "participation_A.dat");
  std::string l1, l2, l3;
  std::getline(heat, l1);
  std::getline(heat, l2);
  std::getline(heat, l3);
  EXPECT_EQ(l1, "0 0 1");  // client 1 (p 0.9): version 4 = round 3
  EXPECT_EQ(l2, "1 0 0");  // client 2 (p 0.5): version 2 = round 1
  EXPECT_EQ(l3, "0 1 0");  // client 0 (p 0.1): version 3 = round 2
  // A task without accuracy (regression) plots its test loss.
  RunResult reg = MakeRun("R", 1, 0.5);
  for (RoundRow& row : reg.rows) row.accuracy = std::nan("");
  auto loss = DrawPlots(e, {reg}, (dir / "reg").string());
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  EXPECT_EQ(fs::path(loss->front().path).filename(), "loss_vs_rounds.svg");
  auto bad = DrawPlots(e, {MakeRun("A", 1, 0.5)}, dir.string(), "/nonexistent/gnuplot");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("gnuplot-nox"), std::string::npos);
}

}  // namespace
}  // namespace murmur::sim
