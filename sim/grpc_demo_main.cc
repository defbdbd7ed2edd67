// murmur-grpc-demo: a federated run through murmur's real pieces over
// loopback gRPC. A coordinator (RoundEngine behind CoordinatorService)
// listens on 127.0.0.1; anarchic client threads, each a CoordinatorApi
// session (client::GrpcCoordinator) with its own non-IID data,
// participation probability and preferred number of local steps K, decide
// for themselves when to check in, pull the global model in chunks, train,
// and push encoded updates. Prints a line per round and a final table.
// Exits non-zero if the global test loss did not at least halve.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "client/transport/grpc_coordinator.h"
#include "common/api/coordinator_api.h"
#include "common/config.h"
#include "common/logging.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"
#include "sim/synthetic_regression.h"

namespace {

using namespace murmur;
using SteadyClock = std::chrono::steady_clock;

struct DemoFlags {
  int clients = 16;
  int rounds = 30;
  int updates_per_round = 6;
  int dim = 20;
  int samples = 200;
  double heterogeneity = 1.0;
  double local_lr = 0.02;
  double server_lr = 1.0;
  int batch = 16;
  int min_k = 1;
  int max_k = 20;
  int max_staleness = 4;
  int max_trainers = 0;
  uint64_t seed = 1;
  std::string encoding = "fp32";
  std::string strategy = "fedavg_participants";
  std::string store_dir;
  std::string json;
};

struct ClientStats {
  double p = 0;
  int preferred_k = 0;
  int accepted = 0;
  int rejected = 0;
  int waits = 0;
  std::string last_reject;
};

void RunClient(int index, const DemoFlags& f, const sim::RegressionProblem& problem,
               Encoding encoding, std::unique_ptr<api::CoordinatorApi> session, Rng rng,
               ClientStats* stats) {
  sim::RegressionData data = sim::MakeClientData(problem, f.samples, f.heterogeneity, rng);
  stats->p = rng.Uniform(0.2, 1.0);
  stats->preferred_k = f.min_k + static_cast<int>(rng.UniformInt(f.max_k - f.min_k + 1));
  api::CoordinatorApi& conn = *session;
  const std::string name = "demo-client-" + std::to_string(index);
  // A deterministic secret per simulated client (a real one is provisioned).
  auto reg = conn.Register(name, {.device = "cpu", .num_samples = data.size()},
                           "enrollment-secret-" + name);
  if (!reg.ok()) {
    log::Error("register failed", {{"client", index}, {"error", reg.status().ToString()}});
    return;
  }
  const ModelSpec spec = sim::RegressionSpec(f.dim);
  uint64_t have_version = 0;
  while (true) {
    if (!rng.Bernoulli(stats->p)) {  // this client chooses to sit this moment out
      std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng.UniformInt(8)));
      continue;
    }
    const int k = std::clamp(stats->preferred_k + static_cast<int>(rng.UniformInt(5)) - 2, 1,
                             f.max_k);
    auto decision = conn.CheckIn(k, have_version);
    if (!decision.ok()) {
      log::Error("check-in failed", {{"client", index}, {"error", decision.status().ToString()}});
      return;
    }
    if (decision->kind == api::CheckInDecision::Kind::kFinished) break;
    if (decision->kind == api::CheckInDecision::Kind::kWait) {
      ++stats->waits;
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::min<int64_t>(50, static_cast<int64_t>(decision->retry_after_s * 1000))));
      continue;
    }
    const api::CheckInDecision& train = *decision;
    auto pulled = conn.PullModel(train.model_version);
    if (!pulled.ok() && pulled.status().code() == StatusCode::kNotFound) {
      continue;  // superseded on the way (two rounds closed): check in again
    }
    if (!pulled.ok()) {
      log::Error("pull failed", {{"client", index}, {"error", pulled.status().ToString()}});
      return;
    }
    have_version = pulled->version;
    DecodeOptions dopt{.expected = &spec};
    auto global = DecodeTensors(pulled->bytes, dopt);
    if (!global.ok()) {
      log::Error("bad model", {{"client", index}, {"error", global.status().ToString()}});
      return;
    }
    auto t0 = SteadyClock::now();
    sim::RegressionDelta u = sim::TrainLocalSgd(*global, data, train.local_steps,
                                                train.recipe.local_lr, train.recipe.batch_size, rng);
    api::UpdateToPush push;
    push.base_version = pulled->version;
    push.local_steps = train.local_steps;
    push.num_samples = u.samples;
    push.mean_loss = u.mean_loss;
    push.train_seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    push.encoding = encoding;
    auto encoded = EncodeTensors(u.delta, {.encoding = encoding});
    if (!encoded.ok()) {
      log::Error("encode failed", {{"client", index}, {"error", encoded.status().ToString()}});
      return;
    }
    push.payload = std::move(*encoded);
    auto resp = conn.PushUpdate(push);
    if (!resp.ok()) {
      log::Error("push failed", {{"client", index}, {"error", resp.status().ToString()}});
      return;
    }
    if (resp->accepted) {
      ++stats->accepted;
    } else {
      ++stats->rejected;
      stats->last_reject = resp->message;
    }
  }
  (void)conn.Leave("job finished");
}

}  // namespace

int main(int argc, char** argv) {
  DemoFlags f;
  log::Options log_options;
  CLI::App app{"murmur-grpc-demo: a federated run over loopback gRPC through murmur's coordinator"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--clients", f.clients, "Number of client threads")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--rounds", f.rounds, "Rounds (global versions) to run")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--updates-per-round", f.updates_per_round, "m: a round closes with m updates")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--dim", f.dim, "Feature dimension of the regression task")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--samples", f.samples, "Samples per client")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--heterogeneity", f.heterogeneity, "How much client data differs")->check(CLI::Range(0.0, 10.0))->capture_default_str();
  app.add_option("--local-lr", f.local_lr, "Local SGD learning rate (eta_L)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--server-lr", f.server_lr, "Server learning rate (eta)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", f.batch, "Local minibatch size")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--min-k", f.min_k, "Fewest local steps accepted")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--max-k", f.max_k, "Most local steps accepted")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--max-staleness", f.max_staleness, "tau_max: older updates are rejected")->capture_default_str();
  app.add_option("--max-trainers", f.max_trainers, "Cap on concurrent trainers (0: none)")->capture_default_str();
  app.add_option("--seed", f.seed, "Seed for data and client behaviour")->capture_default_str();
  app.add_option("--encoding", f.encoding, "Update encoding")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "int8"}))->capture_default_str();
  app.add_option("--strategy", f.strategy, "Aggregation strategy (fedavg_participants, fedau, afa_cd, ...)")->capture_default_str();
  app.add_option("--store-dir", f.store_dir, "Record the run in a SQLite store here (resumes if it exists)");
  app.add_option("--json", f.json, "Write a JSON summary here");
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (f.min_k > f.max_k) {
    std::fprintf(stderr, "--min-k (%d) must not exceed --max-k (%d)\n", f.min_k, f.max_k);
    return 2;
  }
  if (Status s = log::Init(log_options); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  const Encoding encoding = *ParseEncoding(f.encoding);

  Rng rng(f.seed);
  sim::RegressionProblem problem = sim::MakeRegressionProblem(f.dim, rng);
  // Held-out test set: fresh samples from a mix of client distributions.
  sim::RegressionData test;
  test.dim = f.dim;
  {
    Rng test_rng = rng.Fork(999'999);
    for (int i = 0; i < 20; ++i) {
      sim::RegressionData part = sim::MakeClientData(problem, 100, f.heterogeneity, test_rng);
      test.x.insert(test.x.end(), part.x.begin(), part.x.end());
      test.y.insert(test.y.end(), part.y.begin(), part.y.end());
    }
  }

  server::EngineConfig cfg;
  cfg.updates_per_round = f.updates_per_round;
  cfg.strategy.name = f.strategy;
  cfg.strategy.server_lr = f.server_lr;
  cfg.max_staleness = f.max_staleness;
  cfg.max_rounds = f.rounds;
  cfg.max_concurrent_trainers = f.max_trainers;
  cfg.wait_retry_s = 0.02;
  cfg.recipe.local_lr = f.local_lr;
  cfg.recipe.batch_size = f.batch;
  cfg.recipe.min_local_steps = f.min_k;
  cfg.recipe.max_local_steps = f.max_k;
  cfg.recipe.update_encoding = encoding;
  Rng engine_rng = rng.Fork(1'000'000);
  std::unique_ptr<server::store::Store> store;
  if (!f.store_dir.empty()) {
    auto opened = server::store::Store::Open({.dir = f.store_dir});
    if (!opened.ok()) {
      std::fprintf(stderr, "murmur-grpc-demo: %s\n", opened.status().ToString().c_str());
      return 1;
    }
    store = std::move(*opened);
  }
  auto created = server::RoundEngine::Create(cfg, ZerosLike(sim::RegressionSpec(f.dim)),
                                             SystemClock::Default(), &engine_rng, store.get());
  if (!created.ok()) {
    std::fprintf(stderr, "murmur-grpc-demo: %s\n", created.status().ToString().c_str());
    return 2;
  }
  server::RoundEngine& engine = **created;
  const double initial_mse = sim::MeanSquaredError(engine.GlobalModel(), test);

  std::mutex print_mu;
  double final_mse = initial_mse;
  std::vector<nlohmann::json> rounds_json;
  auto start = SteadyClock::now();
  engine.SetRoundObserver([&](const server::RoundSummary& r) {
    const double mse = sim::MeanSquaredError(*r.model, test);
    engine.RecordMetrics(r.version, {{"test_mse", mse}});
    std::lock_guard<std::mutex> lock(print_mu);
    final_mse = mse;
    std::printf("round %4llu  updates %2u  |step| %8.4f  client loss %9.4f  test mse %9.4f\n",
                static_cast<unsigned long long>(r.version - 1), r.num_updates, r.update_norm,
                r.mean_client_loss, mse);
    std::fflush(stdout);
    rounds_json.push_back({{"version", r.version}, {"updates", r.num_updates}, {"test_mse", mse}});
  });

  server::CoordinatorService service(&engine);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || port == 0) {
    std::fprintf(stderr, "murmur-grpc-demo: could not start the coordinator on 127.0.0.1\n");
    return 1;
  }
  std::printf("murmur-grpc-demo: coordinator on 127.0.0.1:%d; %d anarchic clients, m=%d, K in [%d, %d], "
              "%s updates, initial test mse %.4f\n",
              port, f.clients, f.updates_per_round, f.min_k, f.max_k, f.encoding.c_str(), initial_mse);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  std::vector<ClientStats> stats(f.clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < f.clients; ++i) {
    threads.emplace_back(RunClient, i, std::cref(f), std::cref(problem), encoding,
                         std::make_unique<client::GrpcCoordinator>(channel), rng.Fork(i),
                         &stats[i]);
  }
  for (auto& t : threads) t.join();
  grpc_server->Shutdown();
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();

  std::printf("\n%-8s %6s %6s %9s %9s %6s\n", "client", "p", "K", "accepted", "rejected", "waits");
  int total_accepted = 0, total_rejected = 0;
  for (int i = 0; i < f.clients; ++i) {
    const ClientStats& s = stats[i];
    std::printf("%-8d %6.2f %6d %9d %9d %6d\n", i, s.p, s.preferred_k, s.accepted, s.rejected,
                s.waits);
    total_accepted += s.accepted;
    total_rejected += s.rejected;
  }
  std::printf("\n%d rounds in %.2f s; %d updates accepted, %d rejected (stale or late); test mse "
              "%.4f -> %.4f\n",
              f.rounds, wall, total_accepted, total_rejected, initial_mse, final_mse);
  if (!f.json.empty()) {
    nlohmann::json j = {{"rounds", rounds_json}, {"initial_test_mse", initial_mse},
                        {"final_test_mse", final_mse}, {"wall_s", wall},
                        {"accepted", total_accepted}, {"rejected", total_rejected}};
    std::ofstream(f.json) << j.dump(2) << "\n";
  }
  created->reset();  // drains the engine before the store closes
  if (!(final_mse < 0.5 * initial_mse)) {
    std::fprintf(stderr, "murmur-grpc-demo: the global model did not improve enough\n");
    return 1;
  }
  return 0;
}
