// murmur-demo: the first real federated run, in one process through the
// coordinator's engine (strategy, SQLite store, validation: the production
// code path, without the network). Every client is a CoordinatorApi session
// (server::InProcessCoordinator): it registers, checks in, pulls the model,
// and pushes its encoded update exactly as a client over gRPC would; the
// simulator itself only drives the engine's clock and evaluates.
//
// A few dozen clients hold Dirichlet(alpha) label-skewed shards of
// Fashion-MNIST. Each client has its own participation probability,
// correlated with its data as in the FedAU paper
// (p_n = mean_p * C * <pi_n, m>, m ~ Dirichlet(0.1), clamped), and its own
// habit for the number of local steps K. Rounds are synchronous and close at
// a deadline on an injected ManualClock. Several strategies run side by
// side on identical client behaviour (the same participation draws, K and
// minibatches), each with its own engine and SQLite history. A round's
// clients train in parallel (one trainer per core, one LibTorch thread each)
// and report in client order, so a run is reproducible. Prints a line per
// round (version, participants, test accuracy per strategy) and a final
// table; exits non-zero if accuracy did not rise.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "ml/local_trainer.h"
#include "common/api/coordinator_api.h"
#include "common/config.h"
#include "common/data/fashion_mnist.h"
#include "common/data/partition.h"
#include "common/data/partitioners.h"
#include "common/logging.h"
#include "ml/cpu_threads.h"
#include "ml/examples.h"
#include "ml/model_config.h"
#include "server/engine/in_process_coordinator.h"
#include "server/engine/round_engine.h"
#include "server/strategy/strategy_factory.h"
#include "server/store/store.h"

namespace {

using namespace murmur;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  // The FedAU paper's participation regime: mean p about 0.1, so ~10 of 100
  // clients report per round (with 30 clients FedAU's omega_n / N weights
  // give one rare client most of a step).
  int clients = 100;
  int rounds = 30;
  double alpha = 0.1;
  double mean_p = 0.1;
  int min_k = 5;
  int max_k = 15;
  int batch = 32;
  // Local Adam (fresh state each job): under Dirichlet(0.1) shards plain SGD
  // needs hundreds of rounds to leave chance accuracy.
  std::string optimizer = "adam";
  double local_lr = 0.002;
  // "strategy=value" entries, or a bare value for every strategy not named.
  // AFA-CD steps by eta * eta_L * (mean per-step update); eta = 10 (about the
  // mean K) moves it as far per round as FedAvg does.
  std::vector<std::string> server_lr = {"1", "afa_cd=10"};
  std::vector<std::string> strategies = {"fedau", "fedavg_participants", "afa_cd"};
  uint64_t seed = 1;
  int eval_samples = 1000;
  std::string state_dir = "build/demo";
  std::string data_dir = data::kDefaultFashionMnistDir;
  // One LibTorch thread: the per-client batches are small, and OpenMP's
  // spinning barriers cost more than they give (and collapse under load).
  int threads = 1;
  // Clients trained at once, each on its own trainer (0: one per core).
  int workers = 0;
  double min_accuracy_gain = 0.05;
  std::string json;
};

struct Run {
  std::string strategy;
  std::unique_ptr<server::store::Store> store;
  ManualClock clock;
  std::unique_ptr<Rng> rng;
  std::unique_ptr<server::RoundEngine> engine;
  std::vector<std::unique_ptr<api::CoordinatorApi>> clients;  // one session per client
  std::vector<double> accuracy;  // per round
  int accepted = 0;
  int rejected = 0;
};

int Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "murmur-demo: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

// Parses --server-lr entries ("0.5", "afa_cd=10") into a per-strategy map;
// the key "" holds the value for strategies not named.
Result<std::map<std::string, double>> ParseServerLrs(const std::vector<std::string>& entries) {
  std::map<std::string, double> out = {{"", 1.0}};
  for (const std::string& e : entries) {
    const size_t eq = e.find('=');
    const std::string key = eq == std::string::npos ? "" : e.substr(0, eq);
    const std::string value = eq == std::string::npos ? e : e.substr(eq + 1);
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !(v > 0) || !std::isfinite(v)) {
      return InvalidArgumentError("--server-lr: '" + e +
                                     "' is not a positive number or strategy=number");
    }
    if (!key.empty()) {
      const auto names = server::strategy::StrategyNames();
      if (std::find(names.begin(), names.end(), key) == names.end()) {
        return InvalidArgumentError("--server-lr: '" + key + "' is not a strategy name");
      }
    }
    out[key] = v;
  }
  return out;
}

// One client's local job of a round, and what came of it.
struct Job {
  size_t run = 0;  // index into the strategies' runs
  int client = 0;
  int64_t steps = 0;
  uint64_t version = 0;  // the global version it trains from
  Result<trainer::LocalUpdate> update = InternalError("not run");
};

// Calls fn(trainer, i) for i in [0, n) on the trainers, one thread per
// trainer, each i on whichever trainer is free. Callers make each result
// depend only on i, not on the trainer that ran it.
void ForEachOnTrainers(std::vector<std::unique_ptr<trainer::LocalTrainer>>& trainers, size_t n,
                       const std::function<void(trainer::LocalTrainer&, size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&](trainer::LocalTrainer& t) {
    for (size_t i = next++; i < n; i = next++) fn(t, i);
  };
  const size_t used = std::min(trainers.size(), n);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < used; ++w) threads.emplace_back(work, std::ref(*trainers[w]));
  if (used > 0) work(*trainers[0]);
  for (auto& th : threads) th.join();
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  log_options.level = log::Level::kWarn;
  CLI::App app{"murmur-demo: a federated Fashion-MNIST run through murmur's engine, strategies "
               "side by side"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--clients", f.clients, "Number of clients")->check(CLI::Range(2, 5000))->capture_default_str();
  app.add_option("--rounds", f.rounds, "Rounds per strategy")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--alpha", f.alpha, "Dirichlet concentration of the label split")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--mean-p", f.mean_p, "Mean participation probability")->check(CLI::Range(0.01, 1.0))->capture_default_str();
  app.add_option("--min-k", f.min_k, "Fewest local steps a client chooses")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--max-k", f.max_k, "Most local steps a client chooses")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--batch", f.batch, "Local minibatch size")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--optimizer", f.optimizer, "Local optimizer: sgd, momentum, adam, adamw")->capture_default_str();
  app.add_option("--local-lr", f.local_lr, "Local learning rate (eta_L / gamma)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--server-lr", f.server_lr,
                 "Server learning rate (eta): a value for all strategies and/or strategy=value "
                 "(comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--strategies", f.strategies, "Strategies to run side by side (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seed", f.seed, "Seed for data split and client behaviour")->capture_default_str();
  app.add_option("--eval-samples", f.eval_samples, "Test images evaluated each round")->check(CLI::Range(100, 10000))->capture_default_str();
  app.add_option("--state-dir", f.state_dir, "Where each strategy's SQLite history goes")->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "Fashion-MNIST directory")->capture_default_str();
  app.add_option("--threads", f.threads, "LibTorch threads per trainer (0: all cores)")->capture_default_str();
  app.add_option("--workers", f.workers, "Clients trained at once (0: one per core)")->check(CLI::Range(0, 256))->capture_default_str();
  app.add_option("--json", f.json, "Write a JSON summary here");
  app.add_option("--min-accuracy-gain", f.min_accuracy_gain,
                 "Exit non-zero unless every strategy's best accuracy beats the initial by this")
      ->capture_default_str();
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (f.min_k > f.max_k) {
    std::fprintf(stderr, "murmur-demo: --min-k (%d) must not exceed --max-k (%d)\n", f.min_k, f.max_k);
    return 2;
  }
  auto server_lrs = ParseServerLrs(f.server_lr);
  if (!server_lrs.ok()) {
    std::fprintf(stderr, "murmur-demo: %s\n", server_lrs.status().message().c_str());
    return 2;
  }
  auto optimizer = trainer::ParseOptimizer(f.optimizer);
  if (!optimizer.ok()) {
    std::fprintf(stderr, "murmur-demo: --optimizer: %s\n", optimizer.status().message().c_str());
    return 2;
  }
  if (f.workers == 0) f.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (Status s = log::Init(log_options); !s.ok()) return Fail(s, "logging");
  model::ConfigureCpuThreads(f.threads);

  auto train = data::LoadFashionMnist(f.data_dir, data::Split::kTrain);
  if (!train.ok()) return Fail(train.status(), "loading the training set");
  auto test = data::LoadFashionMnist(f.data_dir, data::Split::kTest);
  if (!test.ok()) return Fail(test.status(), "loading the test set");
  const int C = train->num_classes;

  // The federation: shards, participation probabilities, K habits.
  Rng rng(f.seed);
  Rng split_rng = rng.Fork(1);
  auto shards = data::PartitionDirichlet(std::span<const uint8_t>(train->labels), C, f.clients,
                                         f.alpha, static_cast<size_t>(f.batch), split_rng);
  if (!shards.ok()) return Fail(shards.status(), "partitioning");
  auto hist = data::LabelHistogram(*shards, std::span<const uint8_t>(train->labels), C);
  if (!hist.ok()) return Fail(hist.status(), "label histogram");
  Rng behaviour = rng.Fork(2);
  const std::vector<double> m = behaviour.Dirichlet(C, 0.1);
  std::vector<double> p(f.clients);
  std::vector<int> k_habit(f.clients);
  for (int n = 0; n < f.clients; ++n) {
    const double size = std::accumulate((*hist)[n].begin(), (*hist)[n].end(), 0.0);
    double dot = 0;
    for (int c = 0; c < C; ++c) dot += (*hist)[n][c] / size * m[c];
    p[n] = std::clamp(f.mean_p * C * dot, 0.02, 1.0);
    k_habit[n] = f.min_k + static_cast<int>(behaviour.UniformInt(f.max_k - f.min_k + 1));
  }
  // Who takes part in which round: drawn once, shared by every strategy.
  std::vector<std::vector<int>> participants(f.rounds + 1);
  Rng draws = rng.Fork(3);
  for (int t = 1; t <= f.rounds; ++t) {
    for (int n = 0; n < f.clients; ++n) {
      if (draws.Bernoulli(p[n])) participants[t].push_back(n);
    }
  }

  model::ModelConfig model_config = model::DefaultImageConfig();
  trainer::TrainOptions topt;
  topt.optimizer = *optimizer;
  topt.lr = f.local_lr;
  topt.batch_size = f.batch;
  topt.device = "cpu";
  auto trainer = trainer::LocalTrainer::Create(model_config, topt);
  if (!trainer.ok()) return Fail(trainer.status(), "building the model");
  // The workers' trainers (the first is `trainer`, also used to evaluate).
  std::vector<std::unique_ptr<trainer::LocalTrainer>> trainers;
  trainers.push_back(std::move(*trainer));
  for (int w = 1; w < f.workers; ++w) {
    auto extra = trainer::LocalTrainer::Create(model_config, topt);
    if (!extra.ok()) return Fail(extra.status(), "building the model");
    trainers.push_back(std::move(*extra));
  }
  trainer::LocalTrainer* const evaluator = trainers[0].get();
  const TensorList initial = evaluator->GetParameters();
  const ModelSpec model_spec = SpecOf(initial);
  const model::Examples train_ex = model::Examples::Images(*train);
  const model::Examples test_ex = model::Examples::Images(*test);
  std::vector<uint32_t> eval_idx(f.eval_samples);
  std::iota(eval_idx.begin(), eval_idx.end(), 0u);

  std::vector<std::unique_ptr<Run>> runs;
  for (const std::string& name : f.strategies) {
    auto run = std::make_unique<Run>();
    run->strategy = name;
    const std::filesystem::path dir = std::filesystem::path(f.state_dir) / name;
    std::filesystem::remove_all(dir);  // a fresh job each time
    auto store = server::store::Store::Open({.dir = dir.string()});
    if (!store.ok()) return Fail(store.status(), "opening the store");
    run->store = std::move(*store);
    server::EngineConfig cfg;
    cfg.mode = server::RoundMode::kSync;
    cfg.updates_per_round = 0;
    cfg.round_deadline_s = 60;
    cfg.close_empty_rounds = true;
    cfg.strategy.name = name;
    cfg.strategy.server_lr =
        server_lrs->count(name) ? server_lrs->at(name) : server_lrs->at("");
    cfg.max_staleness = 0;
    cfg.max_rounds = f.rounds;
    cfg.max_update_norm = 1e4;
    cfg.recipe.local_lr = f.local_lr;
    cfg.recipe.batch_size = f.batch;
    cfg.recipe.min_local_steps = f.min_k;
    cfg.recipe.max_local_steps = f.max_k;
    run->rng = std::make_unique<Rng>(rng.Fork(100));
    auto engine = server::RoundEngine::Create(cfg, initial, &run->clock, run->rng.get(),
                                              run->store.get());
    if (!engine.ok()) return Fail(engine.status(), ("starting the engine for " + name).c_str());
    run->engine = std::move(*engine);
    for (int n = 0; n < f.clients; ++n) {
      auto session = std::make_unique<server::InProcessCoordinator>(run->engine.get());
      const std::string client = "client-" + std::to_string(n);
      auto reg = session->Register(client, {.device = "cpu", .num_samples = (*shards)[n].size()},
                                   "enrollment-secret-" + client);
      if (!reg.ok()) return Fail(reg.status(), "registering");
      run->clients.push_back(std::move(session));
    }
    runs.push_back(std::move(run));
  }

  auto initial_eval = evaluator->Evaluate(initial, test_ex, eval_idx);
  if (!initial_eval.ok()) return Fail(initial_eval.status(), "evaluating");
  std::printf("murmur-demo: %d clients, Dirichlet(%.2g) Fashion-MNIST shards, mean p %.2f, K in "
              "[%d, %d], %lld-parameter linear-attention model; %d rounds; initial test accuracy "
              "%.3f\n",
              f.clients, f.alpha, f.mean_p, f.min_k, f.max_k,
              static_cast<long long>(evaluator->num_parameters()), f.rounds,
              initial_eval->accuracy);
  std::printf("%7s %6s", "version", "takers");
  for (const auto& run : runs) std::printf(" %20s", run->strategy.c_str());
  std::printf("\n");

  const auto start = SteadyClock::now();
  for (int t = 1; t <= f.rounds; ++t) {
    // Every strategy's clients check in; those told to train do so, all
    // strategies' jobs in one pool; each run then gets its reports in client
    // order, so a run is reproducible whatever the threads did.
    // Each client told to train pulls the version it was given; the clients
    // of a run share the decoded model (sync rounds: all get one version).
    std::vector<TensorList> globals(runs.size());
    std::vector<uint64_t> decoded(runs.size(), 0);  // the version in globals[r]
    std::vector<Job> jobs;
    for (size_t r = 0; r < runs.size(); ++r) {
      for (int n : participants[t]) {
        api::CoordinatorApi& client = *runs[r]->clients[n];
        auto d = client.CheckIn(k_habit[n], 0);
        if (!d.ok()) return Fail(d.status(), "check-in");
        if (d->kind != api::CheckInDecision::Kind::kTrain) continue;
        auto pulled = client.PullModel(d->model_version);
        if (!pulled.ok()) return Fail(pulled.status(), "pulling the model");
        if (decoded[r] != 0 && decoded[r] != pulled->version) {
          return Fail(InternalError("two versions in one synchronous round"), "pulling the model");
        }
        if (decoded[r] == 0) {
          auto global = DecodeTensors(pulled->bytes, {.expected = &model_spec});
          if (!global.ok()) return Fail(global.status(), "decoding the model");
          globals[r] = std::move(*global);
          decoded[r] = pulled->version;
        }
        Job job;
        job.run = r;
        job.client = n;
        job.steps = static_cast<int64_t>(d->local_steps);
        job.version = pulled->version;
        jobs.push_back(std::move(job));
      }
    }
    ForEachOnTrainers(trainers, jobs.size(), [&](trainer::LocalTrainer& tr, size_t i) {
      Job& job = jobs[i];
      // Identical minibatches for every strategy: seeded by (client, round).
      Rng client_rng = rng.Fork(1'000'000 + static_cast<uint64_t>(job.client) * 100'000 + t);
      job.update = tr.Train(globals[job.run], train_ex, (*shards)[job.client], job.steps, client_rng);
    });
    for (Job& job : jobs) {
      Run& run = *runs[job.run];
      if (!job.update.ok()) {
        log::Warn("local training failed",
                  {{"client", job.client}, {"error", job.update.status().ToString()}});
        continue;
      }
      const trainer::LocalUpdate& upd = *job.update;
      auto payload = EncodeTensors(upd.delta);
      if (!payload.ok()) return Fail(payload.status(), "encoding an update");
      api::UpdateToPush push;
      push.base_version = job.version;
      push.local_steps = static_cast<uint32_t>(upd.local_steps);
      push.num_samples = static_cast<uint64_t>(upd.samples);
      push.mean_loss = upd.mean_loss;
      push.train_seconds = upd.wall_seconds;
      push.payload = std::move(*payload);
      Result<api::UpdateOutcome> o = run.clients[job.client]->PushUpdate(push);
      if (!o.ok() && o.status().code() != StatusCode::kUnavailable) {
        return Fail(o.status(), "pushing an update");
      }
      if (o.ok() && o->accepted) {
        ++run.accepted;
      } else {  // refused, or busy (UNAVAILABLE; not resent)
        ++run.rejected;
        log::Warn("update rejected", {{"client", job.client},
                                      {"reason", o.ok() ? o->message : o.status().message()}});
      }
    }
    // The round's deadline passes on each engine's clock.
    for (auto& run : runs) {
      run->clock.Advance(std::chrono::seconds(61));
      if (Status s = run->engine->Flush(); !s.ok()) return Fail(s, "closing the round");
    }
    std::vector<Result<trainer::EvalResult>> evals(runs.size(), InternalError("not run"));
    ForEachOnTrainers(trainers, runs.size(), [&](trainer::LocalTrainer& tr, size_t r) {
      evals[r] = tr.Evaluate(runs[r]->engine->GlobalModel(), test_ex, eval_idx);
    });
    for (size_t r = 0; r < runs.size(); ++r) {
      if (!evals[r].ok()) return Fail(evals[r].status(), "evaluating");
      server::RoundEngine& engine = *runs[r]->engine;
      engine.RecordMetrics(engine.version(),
                           {{"test_accuracy", evals[r]->accuracy}, {"test_loss", evals[r]->loss}});
      runs[r]->accuracy.push_back(evals[r]->accuracy);
    }
    std::printf("%7d %6zu", t + 1, participants[t].size());
    for (const auto& run : runs) std::printf(" %20.3f", run->accuracy.back());
    std::printf("\n");
    std::fflush(stdout);
  }
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();

  std::printf("\n%-22s %9s %9s %9s %9s  %s\n", "strategy", "final acc", "best acc", "accepted",
              "rejected", "history");
  nlohmann::json out = {{"clients", f.clients}, {"rounds", f.rounds}, {"wall_s", wall},
                        {"initial_accuracy", initial_eval->accuracy}};
  bool rose = true;
  for (auto& run : runs) {
    if (Status s = run->engine->Flush(); !s.ok()) return Fail(s, "flushing");
    const double best = *std::max_element(run->accuracy.begin(), run->accuracy.end());
    const std::string db = (std::filesystem::path(f.state_dir) / run->strategy).string();
    std::printf("%-22s %9.3f %9.3f %9d %9d  %s\n", run->strategy.c_str(), run->accuracy.back(), best,
                run->accepted, run->rejected, db.c_str());
    out["strategies"][run->strategy] = {{"final_accuracy", run->accuracy.back()},
                                        {"best_accuracy", best},
                                        {"accuracy", run->accuracy},
                                        {"accepted", run->accepted},
                                        {"rejected", run->rejected}};
    rose = rose && best > initial_eval->accuracy + f.min_accuracy_gain;
  }
  std::printf("\n%d rounds x %zu strategies in %.1f s\n", f.rounds, runs.size(), wall);
  if (!f.json.empty()) std::ofstream(f.json) << out.dump(2) << "\n";
  if (!rose) {
    std::fprintf(stderr, "murmur-demo: test accuracy did not rise as expected\n");
    return 1;
  }
  return 0;
}
