#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace murmur::sim {
namespace {

std::string Num(double v, const char* fmt) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

nlohmann::json JsonNum(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace

void WriteRoundCsv(std::ostream& out, const RunResult& run) {
  out << "version,sim_time_s,accuracy,loss,participants,mean_staleness,sum_weights\n";
  for (const RoundRow& r : run.rows) {
    out << r.version << ',' << Num(r.sim_time_s, "%.3f") << ',' << Num(r.accuracy, "%.4f") << ','
        << Num(r.loss, "%.6g") << ',' << r.participants << ',' << Num(r.mean_staleness, "%.3f")
        << ',' << Num(r.sum_weights, "%.6g") << '\n';
  }
}

std::string RoundCsv(const RunResult& run) {
  std::ostringstream s;
  WriteRoundCsv(s, run);
  return s.str();
}

double FinalAccuracy(const RunResult& run) {
  for (auto it = run.rows.rbegin(); it != run.rows.rend(); ++it) {
    if (!std::isnan(it->loss)) return it->accuracy;
  }
  return std::nan("");
}

double FinalLoss(const RunResult& run) {
  for (auto it = run.rows.rbegin(); it != run.rows.rend(); ++it) {
    if (!std::isnan(it->loss)) return it->loss;
  }
  return std::nan("");
}

nlohmann::json SummaryJson(const ExperimentConfig& e, const std::vector<RunResult>& runs) {
  nlohmann::json j;
  j["experiment"] = e.name;
  j["seeds"] = e.seeds;
  j["rounds"] = e.rounds;
  j["sim_time_s"] = e.sim_time_s;
  j["clients"] = e.workload.clients;
  j["workload"] = e.workload.kind;
  j["runs"] = nlohmann::json::array();
  for (const RunResult& r : runs) {
    double best = std::nan("");
    for (const RoundRow& row : r.rows) {
      if (!std::isnan(row.accuracy) && !(row.accuracy <= best)) best = row.accuracy;
    }
    j["runs"].push_back({{"label", r.label},
                         {"strategy", r.strategy},
                         {"seed", r.seed},
                         {"versions", r.rows.empty() ? 0 : r.rows.back().version},
                         {"initial_accuracy", JsonNum(r.rows.empty() ? std::nan("") : r.rows[0].accuracy)},
                         {"final_accuracy", JsonNum(FinalAccuracy(r))},
                         {"best_accuracy", JsonNum(best)},
                         {"final_loss", JsonNum(FinalLoss(r))},
                         {"optimal_loss", JsonNum(r.optimal_loss)},
                         {"check_ins", r.check_ins},
                         {"jobs_started", r.jobs_started},
                         {"dropouts", r.dropouts},
                         {"accepted", r.accepted},
                         {"rejected", r.rejected},
                         {"trained", r.trained},
                         {"sim_end_s", r.sim_end_s},
                         {"wall_s", r.wall_s},
                         {"true_p", r.true_p},
                         {"participations", r.participations}});
  }
  return j;
}

std::string SummaryTable(const ExperimentConfig& e, const std::vector<RunResult>& runs) {
  struct Agg {
    double acc = 0, loss = 0, sim = 0, wall = 0, accepted = 0, rejected = 0;
    int n = 0, acc_n = 0;
    uint64_t versions = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Agg> by;
  for (const RunResult& r : runs) {
    if (!by.count(r.label)) order.push_back(r.label);
    Agg& a = by[r.label];
    const double acc = FinalAccuracy(r);
    if (!std::isnan(acc)) {
      a.acc += acc;
      ++a.acc_n;
    }
    a.loss += FinalLoss(r);
    a.sim += r.sim_end_s;
    a.wall += r.wall_s;
    a.accepted += static_cast<double>(r.accepted);
    a.rejected += static_cast<double>(r.rejected);
    a.versions = std::max(a.versions, r.rows.empty() ? 0 : r.rows.back().version);
    ++a.n;
  }
  std::ostringstream s;
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %6s %10s %10s %9s %9s %9s %11s %8s\n", "strategy", "seeds",
                "final acc", "final loss", "versions", "accepted", "rejected", "sim time s",
                "wall s");
  s << line;
  for (const std::string& label : order) {
    const Agg& a = by[label];
    std::snprintf(line, sizeof line, "%-22s %6d %10s %10.4g %9llu %9.0f %9.0f %11.0f %8.1f\n",
                  label.c_str(), a.n, a.acc_n ? Num(a.acc / a.acc_n, "%.4f").c_str() : "-",
                  a.loss / a.n, static_cast<unsigned long long>(a.versions), a.accepted / a.n,
                  a.rejected / a.n, a.sim / a.n, a.wall);
    s << line;
  }
  (void)e;
  return s.str();
}

}  // namespace murmur::sim
