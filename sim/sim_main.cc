// murmur-sim: runs an experiment file — strategies side by side on
// identical simulated clients, on the production coordinator core with a
// virtual clock — and writes a per-round CSV per run, a JSON summary and a
// table. `murmur-sim trace ...` writes a synthetic diurnal availability
// trace instead.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "common/progress_bar.h"
#include "ml/cpu_threads.h"
#include "server/store/store.h"
#include "common/codec/tensor_file.h"
#include "sim/availability_trace.h"
#include "sim/connected.h"
#include "sim/experiment.h"
#include "sim/experiment_runner.h"
#include "sim/fmnist_workload.h"
#include "sim/html_report.h"
#include "sim/plots.h"
#include "sim/regression_workload.h"
#include "sim/report.h"

namespace {

using namespace murmur;
using namespace murmur::sim;
namespace fs = std::filesystem;

int Fail(const Status& s, const std::string& what) {
  std::fprintf(stderr, "murmur-sim: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

struct Flags {
  std::string experiment = std::string(MURMUR_SIM_EXPERIMENTS_DIR) + "/tiny.toml";
  std::string out_dir;
  std::string state_dir;
  std::string json;
  std::string trace;
  std::string gnuplot = "gnuplot";
  std::string pattern;
  // connected mode
  std::string connect;
  std::string client_range;
  std::string tls_ca;
  bool insecure_connect = false;
  double slot_s = 1.0;
  double wall_time_s = 0;
  std::string write_init;
  std::vector<uint64_t> seeds;
  std::vector<std::string> strategies;
  uint64_t rounds = 0;
  double sim_time_s = -1;
  int threads = -1;
  bool no_progress = false;
  double min_accuracy_gain = -1;
  // trace subcommand
  DiurnalOptions diurnal;
  uint64_t trace_seed = 1;
  std::string trace_out;
};

Result<std::unique_ptr<Workload>> MakeWorkload(const ExperimentConfig& e, uint64_t seed) {
  if (e.workload.kind == "regression") {
    RegressionWorkloadOptions o;
    o.clients = e.workload.clients;
    o.dim = e.workload.dim;
    o.samples_per_client = e.workload.samples_per_client;
    o.heterogeneity = e.workload.heterogeneity;
    o.local_lr = e.workload.local_lr;
    o.batch = e.workload.batch;
    o.seed = seed;
    return std::unique_ptr<Workload>(std::make_unique<RegressionWorkload>(o));
  }
  MURMUR_ASSIGN_OR_RETURN(auto w, FashionMnistWorkload::Create(e.workload, seed));
  return std::unique_ptr<Workload>(std::move(w));
}

int RunTraceCommand(const Flags& f) {
  Rng rng(f.trace_seed);
  AvailabilityTrace t = GenerateDiurnalTrace(f.diurnal, rng);
  if (f.trace_out.empty() || f.trace_out == "-") {
    std::ostringstream s;
    t.Write(s);
    std::fputs(s.str().c_str(), stdout);
    return 0;
  }
  std::ofstream out(f.trace_out);
  if (!out) return Fail(InvalidArgumentError("cannot write " + f.trace_out), "trace");
  out << "# synthetic diurnal availability trace: murmur-sim trace --clients " << f.diurnal.clients
      << " --days " << f.diurnal.days << " --seed " << f.trace_seed << "\n";
  t.Write(out);
  std::fprintf(stderr, "murmur-sim: wrote %u clients' availability over %.1f days to %s\n",
               f.diurnal.clients, f.diurnal.days, f.trace_out.c_str());
  return 0;
}

// --write-init and --connect: the experiment's first seed, no strategies of its own.
int RunConnectedCommand(const Flags& f, const ExperimentConfig& e) {
  const uint64_t seed = e.seeds.front();
  model::ConfigureCpuThreads(1);
  const size_t threads =
      e.threads > 0 ? static_cast<size_t>(e.threads) : std::max(1u, std::thread::hardware_concurrency());
  auto workload = MakeWorkload(e, seed);
  if (!workload.ok()) return Fail(workload.status(), "workload");
  if (!f.write_init.empty()) {
    if (Status s = WriteTensorFile(f.write_init, (*workload)->InitialModel()); !s.ok()) {
      return Fail(s, "--write-init");
    }
    std::printf("murmur-sim: wrote %s's initial model (seed %llu) to %s\n", e.name.c_str(),
                static_cast<unsigned long long>(seed), f.write_init.c_str());
    return 0;
  }
  ConnectedOptions o;
  o.connect.address = f.connect;
  o.connect.tls_ca = f.tls_ca;
  o.connect.allow_insecure = f.insecure_connect;
  o.seed = seed;
  o.slot_s = f.slot_s;
  o.max_wall_s = f.wall_time_s;
  if (Status s = ParseClientRange(f.client_range, (*workload)->num_clients(), &o.first, &o.last);
      !s.ok()) {
    return Fail(s, "--client-range");
  }
  o.workers = std::min<size_t>(threads, o.last - o.first);
  if (Status s = (*workload)->Prepare(o.workers); !s.ok()) return Fail(s, "workload");
  auto p = ParticipationProbabilities(e, seed, **workload, nullptr);
  if (!p.ok()) return Fail(p.status(), "participation");
  std::printf("murmur-sim: %s: clients %u..%u of %u against %s (%s), pattern %s, slot %.2f wall s, "
              "%zu threads; time is wall time\n  %s\n",
              e.name.c_str(), o.first, o.last - 1, (*workload)->num_clients(), f.connect.c_str(),
              client::DescribeSecurity(o.connect).c_str(),
              std::string(PatternKindName(e.participation.pattern.kind)).c_str(), o.slot_s,
              o.workers, (*workload)->Describe().c_str());
  std::fflush(stdout);
  if (!f.no_progress) {
    o.on_version = [](uint64_t v) { std::fprintf(stderr, "\rmurmur-sim: global version %llu", static_cast<unsigned long long>(v)); };
  }
  auto stats = RunConnected(e, **workload, *p, o);
  if (!f.no_progress) std::fprintf(stderr, "\n");
  if (!stats.ok()) return Fail(stats.status(), "connected run");
  const ConnectedStats& s = *stats;
  std::printf("connected run: %s after %.1f wall s; versions %llu..%llu seen; %llu clients "
              "registered, %llu check-ins (%llu told to wait), %llu jobs, %llu accepted, %llu "
              "rejected, %llu transient errors\n",
              s.finished ? "coordinator finished" : "stopped", s.wall_s,
              static_cast<unsigned long long>(s.first_version),
              static_cast<unsigned long long>(s.last_version),
              static_cast<unsigned long long>(s.registered),
              static_cast<unsigned long long>(s.check_ins), static_cast<unsigned long long>(s.waits),
              static_cast<unsigned long long>(s.jobs), static_cast<unsigned long long>(s.accepted),
              static_cast<unsigned long long>(s.rejected),
              static_cast<unsigned long long>(s.transient_errors));
  if (!f.json.empty()) {
    nlohmann::json j = {{"mode", "connected"}, {"address", f.connect}, {"first_client", o.first},
                        {"last_client", o.last - 1}, {"finished", s.finished}, {"wall_s", s.wall_s},
                        {"first_version", s.first_version}, {"last_version", s.last_version},
                        {"registered", s.registered}, {"check_ins", s.check_ins},
                        {"waits", s.waits}, {"jobs", s.jobs}, {"accepted", s.accepted},
                        {"rejected", s.rejected}, {"transient_errors", s.transient_errors}};
    std::ofstream(f.json) << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  log_options.level = log::Level::kWarn;
  CLI::App app{
      "murmur-sim: simulate thousands of heterogeneous, anarchic clients on one machine, on "
      "murmur's coordinator core with a virtual clock, and compare strategies.\n"
      "Outputs: <out>/<label>-seed<k>.csv (version,sim_time_s,accuracy,loss,participants,"
      "mean_staleness,sum_weights), <out>/summary.json, <out>/report.html (table and plots, "
      "drawn by gnuplot into <out>/plots), a table on stdout."};
  app.set_config();  // murmur-sim takes an experiment file, not a --config
  AddLogOptions(app, &log_options);
  app.add_option("experiment", f.experiment, "Experiment file (TOML; see sim/experiment.h)")
      ->capture_default_str();
  app.add_option("--out", f.out_dir,
                 "Directory for the CSV files and summary.json (default build/sim-out/<name>; "
                 "created if missing, files in it are overwritten)");
  app.add_option("--state-dir", f.state_dir,
                 "Keep each run's history in SQLite under DIR/<label>-seed<k> (must not exist "
                 "yet; nothing is ever deleted). Default: in-memory store");
  app.add_option("--json", f.json, "Also write the JSON summary here");
  app.add_option("--trace", f.trace, "Availability trace CSV replacing the synthetic pattern");
  app.add_option("--seeds", f.seeds, "Seeds to run (comma-separated; overrides the file)")->delimiter(',');
  app.add_option("--strategies", f.strategies, "Only these strategy labels (comma-separated)")->delimiter(',');
  app.add_option("--rounds", f.rounds, "Rounds per run (overrides the file)");
  app.add_option("--sim-time-s", f.sim_time_s, "Simulated-time budget per run (overrides the file)");
  app.add_option("--threads", f.threads, "Local-training threads (0: one per core; overrides the file)");
  app.add_option("--pattern", f.pattern,
                 "Participation pattern (bernoulli, markov, cyclic, always; overrides the file)");
  app.add_option("--gnuplot", f.gnuplot, "gnuplot to draw the plots with")->capture_default_str();
  app.add_flag("--no-progress", f.no_progress, "No progress bar");
  app.add_option("--min-accuracy-gain", f.min_accuracy_gain,
                 "Exit 1 unless every run's final accuracy beats its initial by this (or, "
                 "without accuracy, its loss fell)");
  app.add_option("--connect", f.connect,
                 "Connected mode: drive a running murmur-coordinator at HOST:PORT over gRPC with "
                 "the experiment's clients (WALL time; the coordinator's strategy and rounds)");
  app.add_option("--client-range", f.client_range,
                 "Connected mode: only clients A..B-1 (A:B), so several processes can share one "
                 "coordinator");
  app.add_option("--tls-ca", f.tls_ca, "Connected mode: CA PEM to verify the coordinator (TLS)");
  app.add_flag("--insecure-connect", f.insecure_connect,
               "Connected mode: allow plaintext to a non-loopback coordinator");
  app.add_option("--slot-s", f.slot_s, "Connected mode: wall seconds per participation slot")
      ->capture_default_str();
  app.add_option("--wall-time-s", f.wall_time_s,
                 "Connected mode: stop after this many wall seconds (0: when the coordinator "
                 "finishes)")->capture_default_str();
  app.add_option("--write-init", f.write_init,
                 "Write the experiment's initial model (seed: the first) as a tensor file for "
                 "murmur-coordinator --init, and exit");
  CLI::App* trace_cmd = app.add_subcommand(
      "trace", "Write a synthetic diurnal availability trace (CSV: client,online_from_s,online_to_s)");
  trace_cmd->add_option("--clients", f.diurnal.clients, "Clients")->capture_default_str();
  trace_cmd->add_option("--days", f.diurnal.days, "Simulated days")->capture_default_str();
  trace_cmd->add_option("--sessions-per-day", f.diurnal.sessions_per_day, "Mean online sessions a day")->capture_default_str();
  trace_cmd->add_option("--session-mean-s", f.diurnal.session_mean_s, "Mean session length")->capture_default_str();
  trace_cmd->add_option("--peak-hour", f.diurnal.peak_hour, "Local hour the sessions centre on")->capture_default_str();
  trace_cmd->add_option("--spread-hours", f.diurnal.spread_hours, "Spread of session starts")->capture_default_str();
  trace_cmd->add_option("--seed", f.trace_seed, "Seed")->capture_default_str();
  trace_cmd->add_option("--out", f.trace_out, "Output file ('-' or none: stdout)");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status s = log::Init(log_options); !s.ok()) return Fail(s, "logging");
  if (trace_cmd->parsed()) return RunTraceCommand(f);

  auto loaded = LoadExperiment(f.experiment);
  if (!loaded.ok()) return Fail(loaded.status(), "experiment");
  ExperimentConfig e = std::move(*loaded);
  if (!f.seeds.empty()) e.seeds = f.seeds;
  if (f.rounds > 0) e.rounds = f.rounds;
  if (f.sim_time_s >= 0) e.sim_time_s = f.sim_time_s;
  if (f.threads >= 0) e.threads = f.threads;
  if (!f.pattern.empty()) {
    auto kind = ParsePatternKind(f.pattern);
    if (!kind.ok()) return Fail(kind.status(), "--pattern");
    e.participation.pattern.kind = *kind;
    e.name += "-" + f.pattern;
  }
  if (!f.connect.empty() || !f.write_init.empty()) return RunConnectedCommand(f, e);
  if (e.rounds == 0 && !(e.sim_time_s > 0)) {
    return Fail(InvalidArgumentError("set --rounds or --sim-time-s"), "experiment");
  }
  for (StrategyRun& s : e.strategies) s.engine.max_rounds = e.rounds;
  if (!f.strategies.empty()) {
    std::vector<StrategyRun> kept;
    for (const std::string& label : f.strategies) {
      auto it = std::find_if(e.strategies.begin(), e.strategies.end(),
                             [&](const StrategyRun& s) { return s.label == label; });
      if (it == e.strategies.end()) {
        return Fail(InvalidArgumentError("no strategy labelled '" + label + "' in " + f.experiment),
                    "--strategies");
      }
      kept.push_back(*it);
    }
    e.strategies = std::move(kept);
  }
  std::unique_ptr<AvailabilityTrace> trace;
  const std::string trace_path = !f.trace.empty() ? f.trace : e.participation.trace;
  if (!trace_path.empty()) {
    auto t = AvailabilityTrace::Load(trace_path);
    if (!t.ok()) return Fail(t.status(), "availability trace");
    trace = std::make_unique<AvailabilityTrace>(std::move(*t));
  }
  const size_t threads =
      e.threads > 0 ? static_cast<size_t>(e.threads) : std::max(1u, std::thread::hardware_concurrency());
  model::ConfigureCpuThreads(1);  // one LibTorch thread per worker
  if (f.out_dir.empty()) f.out_dir = "build/sim-out/" + e.name;
  std::error_code ec;
  fs::create_directories(f.out_dir, ec);
  if (ec) return Fail(InvalidArgumentError(ec.message()), "creating " + f.out_dir);

  SeedRunOptions opt;
  opt.trace = trace.get();
  if (!f.state_dir.empty()) {
    opt.open_store = [&](const std::string& label, uint64_t seed)
        -> Result<std::unique_ptr<server::store::Store>> {
      const fs::path dir = fs::path(f.state_dir) / (label + "-seed" + std::to_string(seed));
      if (fs::exists(dir)) {
        return AlreadyExistsError(dir.string() +
                                  " already exists; murmur-sim never reuses or deletes a history "
                                  "(remove it yourself or pick another --state-dir)");
      }
      return server::store::Store::Open({.dir = dir.string(), .synchronous_full = false});
    };
  }
  const int64_t per_run = e.rounds > 0 ? static_cast<int64_t>(e.rounds) : 1000;
  const int64_t total = per_run * static_cast<int64_t>(e.seeds.size() * e.strategies.size());
  ProgressBar bar("sim", total, stderr, !f.no_progress);
  int64_t runs_done = 0;
  std::string current;
  opt.on_round = [&](const StrategyRun& run, const RoundRow& row) {
    const int64_t in_run = e.rounds > 0
                               ? static_cast<int64_t>(row.version - 1)
                               : static_cast<int64_t>(per_run * row.sim_time_s / e.sim_time_s);
    bar.Update(runs_done * per_run + std::min(in_run, per_run), run.label);
  };

  std::printf("murmur-sim: %s: %zu strategies x %zu seeds, %u clients, %s%s, %zu threads\n",
              e.name.c_str(), e.strategies.size(), e.seeds.size(), e.workload.clients,
              trace ? "availability trace " : "pattern ",
              trace ? trace_path.c_str() : std::string(PatternKindName(e.participation.pattern.kind)).c_str(),
              threads);
  std::vector<RunResult> all;
  ThreadPool pool(threads);
  for (uint64_t seed : e.seeds) {
    auto workload = MakeWorkload(e, seed);
    if (!workload.ok()) return Fail(workload.status(), "workload");
    if (Status s = (*workload)->Prepare(pool.size()); !s.ok()) return Fail(s, "workload");
    if (seed == e.seeds.front()) std::printf("  %s\n", (*workload)->Describe().c_str());
    for (const StrategyRun& run : e.strategies) {
      ExperimentConfig one = e;
      one.strategies = {run};
      auto runs = RunSeed(one, seed, **workload, pool, opt);
      if (!runs.ok()) return Fail(runs.status(), "simulation");
      ++runs_done;
      for (RunResult& r : *runs) {
        const fs::path csv = fs::path(f.out_dir) / (r.label + "-seed" + std::to_string(seed) + ".csv");
        std::ofstream out(csv);
        WriteRoundCsv(out, r);
        if (!out) return Fail(InvalidArgumentError("cannot write " + csv.string()), "output");
        all.push_back(std::move(r));
      }
    }
  }
  bar.Finish();
  const nlohmann::json summary = SummaryJson(e, all);
  std::ofstream(fs::path(f.out_dir) / "summary.json") << summary.dump(2) << "\n";
  if (!f.json.empty()) std::ofstream(f.json) << summary.dump(2) << "\n";
  std::string note;
  std::vector<Figure> figures;
  if (auto drawn = DrawPlots(e, all, f.out_dir, f.gnuplot); drawn.ok()) {
    figures = std::move(*drawn);
  } else {
    note = "No plots: " + drawn.status().ToString();
    std::fprintf(stderr, "murmur-sim: %s\n", note.c_str());
  }
  auto html = HtmlReport(e, all, figures, note);
  if (!html.ok()) return Fail(html.status(), "report");
  const fs::path report = fs::path(f.out_dir) / "report.html";
  std::ofstream(report) << *html;
  std::printf("\n%s\nCSV, summary.json and report.html in %s\n", SummaryTable(e, all).c_str(),
              f.out_dir.c_str());

  if (f.min_accuracy_gain >= 0) {
    for (const RunResult& r : all) {
      const double acc0 = r.rows.front().accuracy, acc = FinalAccuracy(r);
      const bool ok = std::isnan(acc) ? FinalLoss(r) < r.rows.front().loss
                                      : acc > acc0 + f.min_accuracy_gain;
      if (!ok) {
        std::fprintf(stderr, "murmur-sim: %s (seed %llu) did not improve enough\n", r.label.c_str(),
                     static_cast<unsigned long long>(r.seed));
        return 1;
      }
    }
  }
  return 0;
}
