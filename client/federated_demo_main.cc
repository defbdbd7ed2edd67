// murmur-demo: the first real federated run, in one process through the
// coordinator's engine (strategy, SQLite store, validation: the production
// code path, without the network).
//
// A few dozen clients hold Dirichlet(alpha) label-skewed shards of
// Fashion-MNIST. Each client has its own participation probability,
// correlated with its data as in the FedAU paper
// (p_n = mean_p * C * <pi_n, m>, m ~ Dirichlet(0.1), clamped), and its own
// habit for the number of local steps K. Rounds are synchronous and close at
// a deadline on an injected ManualClock. Several strategies run side by
// side on identical client behaviour (the same participation draws, K and
// minibatches), each with its own engine and SQLite history. Prints a line
// per round (version, participants, test accuracy per strategy) and a final
// table; exits non-zero if accuracy did not rise.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "client/local_trainer.h"
#include "common/config.h"
#include "common/data/fashion_mnist.h"
#include "common/data/partition.h"
#include "common/data/partitioners.h"
#include "common/logging.h"
#include "common/model/cpu_threads.h"
#include "common/model/examples.h"
#include "common/model/model_config.h"
#include "server/round_engine.h"
#include "server/store/store.h"

namespace {

using namespace murmur;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  int clients = 30;
  int rounds = 20;
  double alpha = 0.1;
  double mean_p = 0.4;
  int min_k = 5;
  int max_k = 15;
  int batch = 32;
  double local_lr = 0.1;
  double server_lr = 1.0;
  std::vector<std::string> strategies = {"fedau", "fedavg_participants", "afa_cd"};
  uint64_t seed = 1;
  int eval_samples = 1000;
  std::string state_dir = "build/demo";
  std::string data_dir = data::kDefaultFashionMnistDir;
  // One LibTorch thread: the per-client batches are small, and OpenMP's
  // spinning barriers cost more than they give (and collapse under load).
  int threads = 1;
  double min_accuracy_gain = 0.05;
  std::string json;
};

struct Run {
  std::string strategy;
  std::unique_ptr<server::store::Store> store;
  ManualClock clock;
  std::unique_ptr<Rng> rng;
  std::unique_ptr<server::RoundEngine> engine;
  std::vector<server::Registration> regs;
  std::vector<double> accuracy;  // per round
  int accepted = 0;
  int rejected = 0;
};

int Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "murmur-demo: %s: %s\n", what, s.ToString().c_str());
  return 1;
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
  app.add_option("--local-lr", f.local_lr, "Local SGD learning rate (eta_L / gamma)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--server-lr", f.server_lr, "Server learning rate (eta)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--strategies", f.strategies, "Strategies to run side by side (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seed", f.seed, "Seed for data split and client behaviour")->capture_default_str();
  app.add_option("--eval-samples", f.eval_samples, "Test images evaluated each round")->check(CLI::Range(100, 10000))->capture_default_str();
  app.add_option("--state-dir", f.state_dir, "Where each strategy's SQLite history goes")->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "Fashion-MNIST directory")->capture_default_str();
  app.add_option("--threads", f.threads, "LibTorch threads (0: all cores)")->capture_default_str();
  app.add_option("--json", f.json, "Write a JSON summary here");
  app.add_option("--min-accuracy-gain", f.min_accuracy_gain,
                 "Exit non-zero unless every strategy's best accuracy beats the initial by this")
      ->capture_default_str();
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (f.min_k > f.max_k) {
    std::fprintf(stderr, "murmur-demo: --min-k (%d) must not exceed --max-k (%d)\n", f.min_k, f.max_k);
    return 2;
  }
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
  topt.optimizer = trainer::OptimizerKind::kSgd;
  topt.lr = f.local_lr;
  topt.batch_size = f.batch;
  topt.device = "cpu";
  auto trainer = trainer::LocalTrainer::Create(model_config, topt);
  if (!trainer.ok()) return Fail(trainer.status(), "building the model");
  const TensorList initial = (*trainer)->GetParameters();
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
    cfg.strategy.server_lr = f.server_lr;
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
      server::ClientCapabilities caps;
      caps.device = "cpu";
      caps.num_samples = (*shards)[n].size();
      auto reg = run->engine->Register("client-" + std::to_string(n), caps);
      if (!reg.ok()) return Fail(reg.status(), "registering");
      run->regs.push_back(*reg);
    }
    runs.push_back(std::move(run));
  }

  auto initial_eval = (*trainer)->Evaluate(initial, test_ex, eval_idx);
  if (!initial_eval.ok()) return Fail(initial_eval.status(), "evaluating");
  std::printf("murmur-demo: %d clients, Dirichlet(%.2g) Fashion-MNIST shards, mean p %.2f, K in "
              "[%d, %d], %lld-parameter linear-attention model; %d rounds; initial test accuracy "
              "%.3f\n",
              f.clients, f.alpha, f.mean_p, f.min_k, f.max_k,
              static_cast<long long>((*trainer)->num_parameters()), f.rounds,
              initial_eval->accuracy);
  std::printf("%7s %6s", "version", "takers");
  for (const auto& run : runs) std::printf(" %20s", run->strategy.c_str());
  std::printf("\n");

  const auto start = SteadyClock::now();
  for (int t = 1; t <= f.rounds; ++t) {
    for (auto& run : runs) {
      server::RoundEngine& engine = *run->engine;
      const TensorList global = engine.GlobalModel();
      const uint64_t version = engine.version();
      for (int n : participants[t]) {
        const server::Registration& reg = run->regs[n];
        auto d = engine.CheckIn(reg.client_id, reg.token, k_habit[n]);
        if (!d.ok()) return Fail(d.status(), "check-in");
        if (d->kind != server::CheckInDecision::Kind::kTrain) continue;
        // Identical minibatches for every strategy: seeded by (client, round).
        Rng client_rng = rng.Fork(1'000'000 + static_cast<uint64_t>(n) * 100'000 + t);
        auto upd = (*trainer)->Train(global, train_ex, (*shards)[n], d->local_steps, client_rng);
        if (!upd.ok()) {
          log::Warn("local training failed", {{"client", n}, {"error", upd.status().ToString()}});
          continue;
        }
        auto payload = EncodeTensors(upd->delta);
        if (!payload.ok()) return Fail(payload.status(), "encoding an update");
        server::UpdateMeta meta;
        meta.client_id = reg.client_id;
        meta.token = reg.token;
        meta.base_version = version;
        meta.local_steps = static_cast<uint32_t>(upd->local_steps);
        meta.num_samples = static_cast<uint64_t>(upd->samples);
        meta.mean_loss = upd->mean_loss;
        server::UpdateOutcome o = engine.SubmitUpdate(meta, *payload);
        if (o.accepted) {
          ++run->accepted;
        } else {
          ++run->rejected;
          log::Warn("update rejected", {{"client", n}, {"reason", o.message}});
        }
      }
      // The round's deadline passes on the engine's clock.
      run->clock.Advance(std::chrono::seconds(61));
      if (Status s = engine.Flush(); !s.ok()) return Fail(s, "closing the round");
      auto eval = (*trainer)->Evaluate(engine.GlobalModel(), test_ex, eval_idx);
      if (!eval.ok()) return Fail(eval.status(), "evaluating");
      engine.RecordMetrics(engine.version(), {{"test_accuracy", eval->accuracy}, {"test_loss", eval->loss}});
      run->accuracy.push_back(eval->accuracy);
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
