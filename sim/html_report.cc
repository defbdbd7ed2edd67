#include "sim/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "sim/report.h"

namespace murmur::sim {
namespace {

std::string Fmt(double v, const char* fmt) {
  if (std::isnan(v)) return "&ndash;";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

struct Stat {
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  int n = 0;
  void Add(double v) {
    if (std::isnan(v)) return;
    sum += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    ++n;
  }
  std::string Show() const {
    if (n == 0) return "&ndash;";
    std::string s = Fmt(sum / n, "%.4f");
    if (n > 1) s += " <small>(" + Fmt(lo, "%.3f") + "&ndash;" + Fmt(hi, "%.3f") + ")</small>";
    return s;
  }
};

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> HtmlReport(const ExperimentConfig& e, const std::vector<RunResult>& runs,
                               const std::vector<Figure>& figures, const std::string& note) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>murmur-sim: "
    << HtmlEscape(e.name) << "</title>\n<style>\n"
    << "body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}\n"
    << "table{border-collapse:collapse;font-size:90%}td,th{padding:4px 10px;border-bottom:1px solid #ccc;"
       "text-align:right}td:first-child,th:first-child{text-align:left}\n"
    << "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #eee}.note{color:#a40}\n"
    << "</style></head><body>\n<h1>murmur-sim: " << HtmlEscape(e.name) << "</h1>\n";
  std::string seeds;
  for (uint64_t s : e.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  h << "<p id=\"setup\">" << e.workload.clients << " clients, workload " << HtmlEscape(e.workload.kind)
    << " (" << HtmlEscape(e.workload.partition) << ", batch " << e.workload.batch << "), participation "
    << HtmlEscape(std::string(PatternKindName(e.participation.pattern.kind))) << " with mean p "
    << e.participation.mean_p << "; " << (e.rounds ? std::to_string(e.rounds) + " rounds" : "")
    << (e.sim_time_s > 0 ? (e.rounds ? ", " : "") + Fmt(e.sim_time_s, "%.0f") + " simulated seconds" : "")
    << "; seeds " << seeds << ". Simulated time runs on murmur-sim's virtual clock, not the wall "
    << "clock.</p>\n";

  struct Row {
    int runs = 0;
    Stat final_acc, best_acc, final_loss, versions, accepted, rejected, sim_s, wall_s;
    std::string strategy;
  };
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  for (const RunResult& r : runs) {
    if (!rows.count(r.label)) order.push_back(r.label);
    Row& row = rows[r.label];
    row.strategy = r.strategy;
    ++row.runs;
    row.final_acc.Add(FinalAccuracy(r));
    row.final_loss.Add(FinalLoss(r));
    double best = NAN;
    for (const RoundRow& x : r.rows) {
      if (!std::isnan(x.loss) && !(x.accuracy <= best)) best = x.accuracy;
    }
    row.best_acc.Add(best);
    row.versions.Add(r.rows.empty() ? 0 : static_cast<double>(r.rows.back().version));
    row.accepted.Add(static_cast<double>(r.accepted));
    row.rejected.Add(static_cast<double>(r.rejected));
    row.sim_s.Add(r.sim_end_s);
    row.wall_s.Add(r.wall_s);
  }
  h << "<table id=\"results\">\n<thead><tr><th>strategy</th><th>rule</th><th>seeds</th>"
       "<th>final accuracy</th><th>best accuracy</th><th>final loss</th><th>versions</th><th>accepted</th>"
       "<th>rejected</th><th>simulated s</th><th>wall s</th></tr></thead>\n<tbody>\n";
  for (const std::string& label : order) {
    const Row& r = rows[label];
    h << "<tr><td>" << HtmlEscape(label) << "</td><td>" << HtmlEscape(r.strategy) << "</td><td>"
      << r.runs << "</td><td>" << r.final_acc.Show() << "</td><td>" << r.best_acc.Show()
      << "</td><td>" << r.final_loss.Show() << "</td><td>" << Fmt(r.versions.sum / std::max(1, r.versions.n), "%.0f") << "</td><td>"
      << Fmt(r.accepted.sum / std::max(1, r.accepted.n), "%.0f") << "</td><td>"
      << Fmt(r.rejected.sum / std::max(1, r.rejected.n), "%.0f") << "</td><td>"
      << Fmt(r.sim_s.sum / std::max(1, r.sim_s.n), "%.0f") << "</td><td>"
      << Fmt(r.wall_s.sum, "%.1f") << "</td></tr>\n";
  }
  h << "</tbody></table>\n<p><small>Accuracy: mean over seeds (min&ndash;max); wall s: total over "
       "seeds. Per-round numbers: the CSV files beside this report; everything: summary.json."
       "</small></p>\n";
  if (!note.empty()) h << "<p class=\"note\">" << HtmlEscape(note) << "</p>\n";
  for (const Figure& f : figures) {
    std::ifstream in(f.path, std::ios::binary);
    if (!in) return NotFoundError("cannot read the figure " + f.path);
    const std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    h << "<figure><img alt=\"" << HtmlEscape(f.title) << "\" src=\"data:image/svg+xml;base64,"
      << Base64(svg) << "\"><figcaption>" << HtmlEscape(f.title) << "</figcaption></figure>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace murmur::sim
