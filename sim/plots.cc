#include "sim/plots.h"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

namespace murmur::sim {
namespace {

namespace fs = std::filesystem;

// gnuplot strings are single-quoted in the script and the shell command:
// refuse paths that would need escaping rather than escape them.
Status CheckQuotable(const std::string& path) {
  if (path.find('\'') != std::string::npos || path.find('\n') != std::string::npos) {
    return InvalidArgumentError("cannot plot into '" + path +
                                "': the path contains a quote or newline");
  }
  return Status::Ok();
}

struct Series {
  std::string label;
  // version -> (sum of accuracy, sum of sim time, count) over seeds
  std::map<uint64_t, std::array<double, 3>> points;
};

// Accuracy where the task has one, else the test loss (the regression task).
bool HaveAccuracy(const std::vector<RunResult>& runs) {
  for (const RunResult& r : runs) {
    for (const RoundRow& row : r.rows) {
      if (!std::isnan(row.accuracy) && !std::isnan(row.loss)) return true;
    }
  }
  return false;
}

std::vector<Series> MetricSeries(const std::vector<RunResult>& runs, bool accuracy) {
  std::vector<Series> out;
  for (const RunResult& r : runs) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Series& s) { return s.label == r.label; });
    if (it == out.end()) {
      out.push_back({r.label, {}});
      it = out.end() - 1;
    }
    for (const RoundRow& row : r.rows) {
      const double v = accuracy ? row.accuracy : row.loss;
      if (std::isnan(v) || std::isnan(row.loss)) continue;
      auto& p = it->points[row.version];
      p[0] += v;
      p[1] += row.sim_time_s;
      p[2] += 1;
    }
  }
  return out;
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return InvalidArgumentError("cannot write " + path.string());
  return Status::Ok();
}

}  // namespace

std::string FileSafe(const std::string& label) {
  std::string s;
  for (char c : label) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    s += ok ? c : '_';
  }
  return s.empty() ? "run" : s;
}

Result<std::vector<Figure>> DrawPlots(const ExperimentConfig& e, const std::vector<RunResult>& runs,
                                      const std::string& out_dir, const std::string& gnuplot) {
  const fs::path dir = fs::absolute(fs::path(out_dir) / "plots");
  MURMUR_RETURN_IF_ERROR(CheckQuotable(dir.string()));
  MURMUR_RETURN_IF_ERROR(CheckQuotable(gnuplot));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return InvalidArgumentError("cannot create " + dir.string() + ": " + ec.message());

  const std::string seeds = e.seeds.size() > 1 ? " (mean over " + std::to_string(e.seeds.size()) + " seeds)" : "";
  std::ostringstream gp;
  gp << "# murmur-sim figures for experiment '" << e.name << "'; redraw with: gnuplot plots.gp\n"
     << "set terminal svg size 820,480 dynamic noenhanced font 'sans,12' background rgb 'white'\n"
     << "set grid lc rgb '#dddddd'\nset key bottom right\nset yrange [0:*]\n"
     << "set datafile separator ' '\n";
  std::vector<Figure> figures;

  // Accuracy: one data block per strategy (index i in gnuplot).
  const bool have_acc = HaveAccuracy(runs);
  const std::string metric = have_acc ? "accuracy" : "loss";
  const std::string Metric = have_acc ? "Test accuracy" : "Test loss";
  const std::vector<Series> series = MetricSeries(runs, have_acc);
  std::ostringstream acc;
  acc << "# round sim_time_s " << metric << " (means over seeds); one block per strategy\n";
  for (const Series& s : series) {
    acc << "# " << s.label << "\n";
    for (const auto& [version, p] : s.points) {
      acc << (version - 1) << ' ' << p[1] / p[2] << ' ' << p[0] / p[2] << '\n';
    }
    acc << "\n\n";
  }
  MURMUR_RETURN_IF_ERROR(WriteFile(dir / "accuracy.dat", acc.str()));
  auto plot_lines = [&](int xcol) {
    std::ostringstream p;
    p << "plot ";
    for (size_t i = 0; i < series.size(); ++i) {
      p << (i ? ", \\\n     " : "") << "'" << (dir / "accuracy.dat").string() << "' index " << i
        << " using " << xcol << ":3 with lines lw 2 title '" << FileSafe(series[i].label) << "'";
    }
    return p.str() + "\n";
  };
  if (!series.empty()) {
    const fs::path rounds_svg = dir / (metric + "_vs_rounds.svg");
    gp << "set output '" << rounds_svg.string() << "'\n"
       << "set title '" << Metric << " per round" << seeds << "'\nset xlabel 'round'\n"
       << "set ylabel 'test " << metric << "'\n" << (have_acc ? "" : "set key top right\n")
       << plot_lines(1);
    figures.push_back({Metric + " vs rounds" + seeds, rounds_svg.string()});
    const fs::path time_svg = dir / (metric + "_vs_time.svg");
    gp << "set output '" << time_svg.string() << "'\n"
       << "set title '" << Metric << " over simulated time" << seeds << "'\n"
       << "set xlabel 'simulated time (s)'\n" << plot_lines(2);
    figures.push_back({Metric + " vs simulated time" + seeds, time_svg.string()});
  }

  // Participation heatmaps: the first run of each label.
  gp << "unset key\nunset grid\n"
     << "set palette defined (0 'white', 1 '#9ecae1', 4 '#08306b')\nset cbrange [0:*]\n";
  std::vector<std::string> done;
  for (const RunResult& r : runs) {
    if (std::find(done.begin(), done.end(), r.label) != done.end()) continue;
    done.push_back(r.label);
    const size_t n = r.true_p.size();
    if (n == 0 || r.rows.size() < 2) continue;
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return r.true_p[a] > r.true_p[b]; });
    std::vector<uint32_t> rank(n);
    for (size_t i = 0; i < n; ++i) rank[order[i]] = static_cast<uint32_t>(i);
    const size_t rounds = r.rows.size() - 1;  // row 0 is the initial model
    std::vector<uint16_t> m(n * rounds, 0);
    for (size_t t = 0; t < rounds; ++t) {
      for (uint32_t c : r.rows[t + 1].clients) {
        if (c < n) {
          uint16_t& v = m[rank[c] * rounds + t];
          if (v < 0xffff) ++v;
        }
      }
    }
    std::ostringstream d;
    for (size_t i = 0; i < n; ++i) {
      for (size_t t = 0; t < rounds; ++t) d << (t ? " " : "") << m[i * rounds + t];
      d << '\n';
    }
    const std::string safe = FileSafe(r.label);
    const fs::path dat = dir / ("participation_" + safe + ".dat");
    MURMUR_RETURN_IF_ERROR(WriteFile(dat, d.str()));
    const fs::path svg = dir / ("participation_" + safe + ".svg");
    gp << "set output '" << svg.string() << "'\n"
       << "set title 'Accepted updates per client and round: " << safe << ", seed " << r.seed
       << "'\nset xlabel 'round'\nset ylabel 'client (sorted by true p_n, highest first)'\n"
       << "set xrange [0.5:" << rounds + 0.5 << "]\nset yrange [" << n - 0.5 << ":-0.5]\n"
       << "plot '" << dat.string() << "' matrix using ($1+1):2:3 with image pixels\n";
    figures.push_back({"Participation (clients x rounds): " + r.label + ", seed " +
                           std::to_string(r.seed),
                       svg.string()});
  }
  gp << "unset output\n";
  const fs::path script = dir / "plots.gp";
  MURMUR_RETURN_IF_ERROR(WriteFile(script, gp.str()));

  const fs::path log = dir / "gnuplot.log";
  const std::string cmd = "command -v '" + gnuplot + "' >/dev/null 2>&1 || exit 127; '" + gnuplot +
                          "' '" + script.string() + "' >'" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
      return NotFoundError("gnuplot ('" + gnuplot +
                           "') not found: install the Debian package gnuplot-nox "
                           "(deploy/install-deps.sh) to get the plots");
    }
    std::ifstream in(log);
    std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (msg.size() > 600) msg = msg.substr(0, 600) + "...";
    return InternalError("gnuplot failed on " + script.string() + ": " + msg);
  }
  for (const Figure& f : figures) {
    if (!fs::exists(f.path)) return InternalError("gnuplot did not write " + f.path);
  }
  return figures;
}

}  // namespace murmur::sim
