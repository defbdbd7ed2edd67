// murmur-bench-sim: how far murmur-sim scales on one machine (issue 13).
//
// Two phases, each one murmur-sim run on the production RoundCore:
//  1. idle: --idle-clients registered clients (default 100,000) on the tiny
//     torch-free regression model, participation only (about --concurrent
//     online per slot); measures the simulator's and the core's memory per
//     registered client (peak RSS over the RSS once the workload is built).
//     It runs first, before LibTorch and Fashion-MNIST are loaded, so its
//     peak is its own.
//  2. main: --clients registered clients (default 10,000), about
//     --concurrent (default 100) online and training per participation slot,
//     the default Fashion-MNIST model (the 79,594-parameter linear-attention
//     network), FedAU, sync rounds; measures rounds/s, updates/s, peak RSS,
//     and the coordinator's share of the work: the CPU time of the thread
//     that drives the core (events, encoding, admission, decoding and
//     validation, aggregation) minus the training and evaluation it ran as
//     pool worker 0, per update, over the local training CPU time per
//     update (summed over the workers). The driving thread also runs the
//     simulator's own event loop and the clients' encoding, so the fraction
//     is an upper bound on the coordinator's.
// Prints a summary and, with --json PATH, writes it as JSON.
//
// Threading: single-threaded apart from murmur-sim's thread pool.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "ml/cpu_threads.h"
#include "sim/experiment.h"
#include "sim/experiment_runner.h"
#include "sim/fmnist_workload.h"
#include "sim/regression_workload.h"
#include "sim/simulation.h"
#include "sim/thread_pool.h"

namespace {

using namespace murmur;
using namespace murmur::sim;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A field of /proc/self/status ("VmRSS", "VmHWM") in MB; -1 if unreadable.
double ProcStatusMb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      double kb = -1;
      s >> kb;
      return kb / 1024.0;
    }
  }
  return -1;
}

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0).
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

// Wraps a Workload and accumulates, per pool worker, the thread CPU time
// spent in Train and Evaluate. Each worker index is used by one thread at a
// time (Workload's contract), so the per-worker slots need no lock.
class TimedWorkload final : public Workload {
 public:
  explicit TimedWorkload(Workload* inner) : inner_(inner) {}
  std::string Describe() const override { return inner_->Describe(); }
  uint32_t num_clients() const override { return inner_->num_clients(); }
  uint64_t num_samples(uint32_t c) const override { return inner_->num_samples(c); }
  std::vector<std::vector<double>> LabelDistributions() const override {
    return inner_->LabelDistributions();
  }
  TensorList InitialModel() const override { return inner_->InitialModel(); }
  Status Prepare(size_t workers) override {
    train_s_.assign(workers, 0.0);
    eval_s_.assign(workers, 0.0);
    return inner_->Prepare(workers);
  }
  Result<TrainOutput> Train(size_t worker, const TensorList& global, uint32_t client, int steps,
                            uint64_t seed) override {
    const double t0 = ThreadCpuSeconds();
    Result<TrainOutput> r = inner_->Train(worker, global, client, steps, seed);
    train_s_[worker] += ThreadCpuSeconds() - t0;
    return r;
  }
  Result<EvalOutput> Evaluate(size_t worker, const TensorList& model) override {
    const double t0 = ThreadCpuSeconds();
    Result<EvalOutput> r = inner_->Evaluate(worker, model);
    eval_s_[worker] += ThreadCpuSeconds() - t0;
    return r;
  }
  double local_lr() const override { return inner_->local_lr(); }
  int batch() const override { return inner_->batch(); }

  double train_total() const {
    double s = 0;
    for (double x : train_s_) s += x;
    return s;
  }
  double worker0_train() const { return train_s_.empty() ? 0 : train_s_[0]; }
  double worker0_eval() const { return eval_s_.empty() ? 0 : eval_s_[0]; }

 private:
  Workload* inner_;
  std::vector<double> train_s_;
  std::vector<double> eval_s_;
};

struct Flags {
  uint32_t clients = 10000;
  uint32_t concurrent = 100;
  uint64_t rounds = 8;
  int k = 5;
  int batch = 16;
  int threads = 0;
  uint32_t idle_clients = 100000;
  uint64_t idle_rounds = 20;
  std::string data_dir;
  std::string json;
};

std::string ExperimentToml(const Flags& f, bool idle) {
  const uint32_t n = idle ? f.idle_clients : f.clients;
  const double p = std::min(1.0, static_cast<double>(f.concurrent) / n);
  std::ostringstream t;
  t << "name = \"bench_" << (idle ? "idle" : "main") << "\"\nseeds = [1]\n"
    << "rounds = " << (idle ? f.idle_rounds : f.rounds) << "\n"
    << "eval_every = 1000000\n\n[workload]\n";
  if (idle) {
    t << "kind = \"regression\"\nclients = " << n
      << "\ndim = 4\nsamples_per_client = 4\nbatch = 4\nlocal_lr = 0.02\n";
  } else {
    t << "kind = \"fashion_mnist\"\nclients = " << n
      << "\npartition = \"iid\"\nbatch = " << f.batch
      << "\noptimizer = \"sgd\"\nlocal_lr = 0.05\neval_samples = 200\n";
    if (!f.data_dir.empty()) t << "data_dir = \"" << f.data_dir << "\"\n";
  }
  t << "\n[participation]\np_mode = \"equal\"\nmean_p = " << p << "\np_min = 0\n"
    << "pattern = \"bernoulli\"\nslot_s = 60\n\n[system]\nk_policy = \"fixed\"\nk = "
    << (idle ? 1 : f.k)
    << "\nsec_per_sample = 0.01\nspeed_sigma = 0.3\nbandwidth_mbps = 50\nbandwidth_sigma = 0.3\n"
       "latency_s = 0.05\ndropout = 0\nthink_s = 2\neager_fraction = 0\n\n"
       "[[strategy]]\nname = \"fedau\"\n";
  return t.str();
}

struct Phase {
  RunResult result;
  double wall_s = 0;
  double driver_cpu_s = 0;  // the driving thread's CPU time during the run
  double rss_base_mb = 0;   // after the workload was built
  double rss_peak_mb = 0;
};

Result<Phase> RunPhase(const ExperimentConfig& e, Workload& wl, ThreadPool& pool) {
  Phase ph;
  MURMUR_RETURN_IF_ERROR(wl.Prepare(pool.size()));
  MURMUR_ASSIGN_OR_RETURN(std::vector<double> p, ParticipationProbabilities(e, 1, wl, nullptr));
  ph.rss_base_mb = ProcStatusMb("VmRSS");
  const bool reset = ResetPeakRss();
  double sampled_peak = ph.rss_base_mb;
  SimulationInputs in;
  in.experiment = &e;
  in.strategy = &e.strategies[0];
  in.seed = 1;
  in.workload = &wl;
  in.pool = &pool;
  in.p = &p;
  in.on_round = [&](const RoundRow&) { sampled_peak = std::max(sampled_peak, ProcStatusMb("VmRSS")); };
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = ThreadCpuSeconds();
  MURMUR_ASSIGN_OR_RETURN(ph.result, RunSimulation(in));
  ph.driver_cpu_s = ThreadCpuSeconds() - cpu0;
  ph.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sampled_peak = std::max(sampled_peak, ProcStatusMb("VmRSS"));
  ph.rss_peak_mb = reset ? std::max(ProcStatusMb("VmHWM"), sampled_peak) : sampled_peak;
  return ph;
}

int Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "murmur-bench-sim: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  log_options.level = log::Level::kWarn;
  CLI::App app{"murmur-bench-sim: murmur-sim's throughput, memory per client and coordinator "
               "overhead (10,000 clients, 100 concurrent, the default model; 100,000 idle)"};
  AddLogOptions(app, &log_options);
  app.add_option("--clients", f.clients, "Registered clients (main phase)")->check(CLI::Range(10u, 10000000u))->capture_default_str();
  app.add_option("--concurrent", f.concurrent, "Clients online (and training) per slot, on average")->check(CLI::Range(1u, 1000000u))->capture_default_str();
  app.add_option("--rounds", f.rounds, "Rounds (main phase)")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--k", f.k, "Local steps per update")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--batch", f.batch, "Minibatch size (a client of 10,000 holds 6 Fashion-MNIST images)")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--threads", f.threads, "Training threads (0: one per core)")->check(CLI::Range(0, 256))->capture_default_str();
  app.add_option("--idle-clients", f.idle_clients, "Registered clients in the idle phase (0: skip it)")->capture_default_str();
  app.add_option("--idle-rounds", f.idle_rounds, "Rounds of the idle phase")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "Fashion-MNIST directory (default: the installed one)");
  app.add_option("--json", f.json, "Write the results here as JSON");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status s = log::Init(log_options); !s.ok()) return Fail(s, "logging");
  if (f.concurrent > f.clients) {
    std::fprintf(stderr, "murmur-bench-sim: --concurrent (%u) exceeds --clients (%u)\n", f.concurrent, f.clients);
    return 2;
  }
  model::ConfigureCpuThreads(1);  // one LibTorch thread per pool worker
  const size_t threads = f.threads > 0 ? static_cast<size_t>(f.threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(threads);
  nlohmann::json out = {{"threads", threads}};

  if (f.idle_clients > 0) {
    auto e = ParseExperiment(ExperimentToml(f, true), "bench-idle", ".");
    if (!e.ok()) return Fail(e.status(), "idle experiment");
    RegressionWorkloadOptions o;
    o.clients = f.idle_clients;
    o.dim = e->workload.dim;
    o.samples_per_client = e->workload.samples_per_client;
    o.local_lr = e->workload.local_lr;
    o.batch = e->workload.batch;
    RegressionWorkload wl(o);
    auto ph = RunPhase(*e, wl, pool);
    if (!ph.ok()) return Fail(ph.status(), "idle phase");
    const double per_1k = (ph->rss_peak_mb - ph->rss_base_mb) / (f.idle_clients / 1000.0);
    out["idle"] = {{"clients", f.idle_clients},
                   {"rounds", ph->result.rows.size() - 1},
                   {"accepted_updates", ph->result.accepted},
                   {"wall_s", ph->wall_s},
                   {"rss_base_mb", ph->rss_base_mb},
                   {"rss_peak_mb", ph->rss_peak_mb},
                   {"rss_mb_per_1k_clients", per_1k}};
    out["rss_mb_per_1k_idle_clients"] = per_1k;
    out["idle_rss_peak_mb"] = ph->rss_peak_mb;
    std::printf("idle: %u registered clients (tiny model, participation only), %zu rounds, %.1f s: "
                "peak RSS %.0f MB (%.0f MB before the clients), %.2f MB per 1,000 clients\n",
                f.idle_clients, ph->result.rows.size() - 1, ph->wall_s, ph->rss_peak_mb,
                ph->rss_base_mb, per_1k);
  }

  auto e = ParseExperiment(ExperimentToml(f, false), "bench-main", ".");
  if (!e.ok()) return Fail(e.status(), "main experiment");
  auto fm = FashionMnistWorkload::Create(e->workload, 1);
  if (!fm.ok()) return Fail(fm.status(), "Fashion-MNIST workload");
  TimedWorkload wl(fm->get());
  auto ph = RunPhase(*e, wl, pool);
  if (!ph.ok()) return Fail(ph.status(), "main phase");
  const RunResult& r = ph->result;
  const double rounds = static_cast<double>(r.rows.size() - 1);
  const double updates = static_cast<double>(std::max<uint64_t>(r.trained, 1));
  const double train_per_update = wl.train_total() / updates;
  const double coord_cpu = ph->driver_cpu_s - wl.worker0_train() - wl.worker0_eval();
  const double coord_per_update = coord_cpu / updates;
  const double overhead = train_per_update > 0 ? coord_per_update / train_per_update : 0;
  out["clients"] = f.clients;
  out["concurrent"] = f.concurrent;
  out["model"] = wl.Describe();
  out["local_steps"] = f.k;
  out["rounds"] = rounds;
  out["accepted_updates"] = r.accepted;
  out["trained_updates"] = r.trained;
  out["wall_s"] = ph->wall_s;
  out["sim_rounds_per_s"] = rounds / ph->wall_s;
  out["client_updates_per_s"] = static_cast<double>(r.trained) / ph->wall_s;
  out["train_cpu_s_per_update"] = train_per_update;
  out["coordinator_cpu_s_per_update"] = coord_per_update;
  out["coordinator_overhead_fraction"] = overhead;
  out["rss_base_mb"] = ph->rss_base_mb;
  out["rss_peak_mb"] = ph->rss_peak_mb;
  out["goals"] = {
      {"rss_10k_clients_under_1gb", ph->rss_peak_mb < 1024},
      {"idle_100k_under_4gb", out.contains("idle_rss_peak_mb") &&
                                  out["idle_rss_peak_mb"].get<double>() < 4096},
      {"coordinator_overhead_under_5pct", overhead < 0.05}};
  std::printf("main: %u registered clients, ~%u concurrent, %s\n", f.clients, f.concurrent,
              wl.Describe().c_str());
  std::printf("  %.0f rounds, %llu updates in %.1f s on %zu threads: %.3f rounds/s, %.2f updates/s\n",
              rounds, static_cast<unsigned long long>(r.trained), ph->wall_s, threads,
              rounds / ph->wall_s, static_cast<double>(r.trained) / ph->wall_s);
  std::printf("  per update: local training %.1f ms CPU, coordinator (and simulator) %.2f ms CPU: "
              "overhead %.2f%%\n",
              1e3 * train_per_update, 1e3 * coord_per_update, 100 * overhead);
  std::printf("  peak RSS %.0f MB (%.0f MB with the data and model loaded, before the clients)\n",
              ph->rss_peak_mb, ph->rss_base_mb);
  if (!f.json.empty()) {
    std::ofstream(f.json) << out.dump(2) << "\n";
    std::printf("JSON in %s\n", f.json.c_str());
  }
  return 0;
}
