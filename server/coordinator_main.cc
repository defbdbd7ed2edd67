// murmur-coordinator: the coordinator as a long-running gRPC server.
//
// Serves murmur.v1.Coordinator on --listen with the round engine behind it,
// recording everything in a SQLite store under --state-dir. Started again on
// the same state dir it resumes exactly where it stopped (same version,
// model, strategy state and history). The initial model of a fresh state
// dir is a named-tensor file given with --init (write one with
// `murmur-init-model --out FILE`); the coordinator links no LibTorch and
// cannot build a model itself. On a state dir that holds a model, --init is
// optional and, when given, must have the stored model's names and shapes.
// murmur.v1.Admin (status, clients, history, rounds, model export; see
// murmurctl) is served on its own listener, --admin-listen: insecure, so a
// non-loopback address is refused unless --admin-insecure is given.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "common/codec/tensor_file.h"
#include "common/config.h"
#include "common/logging.h"
#include "server/engine_flags.h"
#include "server/engine/round_engine.h"
#include "server/service/admin_service.h"
#include "server/service/coordinator_service.h"
#include "server/service/loopback_address.h"
#include "server/store/checkpoint_retention.h"
#include "server/store/store.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// The model the engine starts from. A fresh state dir needs --init; a state
// dir that holds a model resumes it (the engine loads its last checkpoint),
// and a given --init must have the stored model's spec.
murmur::Result<murmur::TensorList> LoadInitialModel(murmur::server::store::Store* store,
                                                    const std::string& init_path,
                                                    const std::string& state_dir) {
  using namespace murmur;
  MURMUR_ASSIGN_OR_RETURN(const bool empty, store->IsEmpty());
  if (empty) {
    if (init_path.empty()) {
      return FailedPreconditionError(fmt::format(
          "state dir {} holds no model yet: write the initial weights with "
          "`murmur-init-model --out FILE` and start the coordinator with --init FILE",
          state_dir));
    }
    return ReadTensorFile(init_path);
  }
  MURMUR_ASSIGN_OR_RETURN(TensorList stored, store->LoadCheckpoint(0));
  if (init_path.empty()) return stored;
  const ModelSpec spec = SpecOf(stored);
  auto given = ReadTensorFile(init_path, &spec);
  if (!given.ok()) {
    return given.status().WithContext(fmt::format(
        "--init {} does not fit the model stored in {} (drop --init to resume it)", init_path,
        state_dir));
  }
  return stored;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace murmur;
  std::string listen = "127.0.0.1:7070";
  std::string state_dir = "murmur-state";
  std::string init_path;
  uint32_t keep_checkpoints = server::store::kDefaultKeepCheckpoints;
  uint32_t keep_every = server::store::kDefaultKeepEvery;
  std::string admin_listen = "127.0.0.1:7071";
  bool admin_insecure = false;
  server::EngineConfig cfg;
  cfg.strategy.name = "afa_cd";
  log::Options log_options;
  CLI::App app{"murmur-coordinator: federated-learning coordinator (gRPC + SQLite)"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--listen", listen, "Address to serve on")->capture_default_str();
  app.add_option("--state-dir", state_dir, "SQLite history and checkpoints (resumed if present)")
      ->capture_default_str();
  app.add_option("--keep-checkpoints", keep_checkpoints,
                 "Model checkpoint files kept: the newest N (0: all; the history rows stay)")
      ->capture_default_str();
  app.add_option("--keep-every", keep_every,
                 "Also keep the checkpoint of every K-th version (0: none)")
      ->capture_default_str();
  app.add_option("--admin-listen", admin_listen,
                 "Address of the Admin service (murmurctl); empty: no Admin service")
      ->capture_default_str();
  app.add_flag("--admin-insecure", admin_insecure,
               "Allow --admin-listen on a non-loopback address (no TLS, no authentication)");
  app.add_option("--init", init_path,
                 "Initial model: a named-tensor file from murmur-init-model (required for a "
                 "fresh state dir; when resuming, checked against the stored model)");
  server::EngineFlagValues engine_flags;
  server::AddEngineFlags(app, &cfg, &engine_flags);
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status s = server::FinishEngineFlags(engine_flags, &cfg); !s.ok()) {
    std::fprintf(stderr, "murmur-coordinator: %s\n", s.ToString().c_str());
    return 2;
  }
  if (Status s = log::Init(log_options); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  auto die = [](const Status& s, const char* what) {
    std::fprintf(stderr, "murmur-coordinator: %s: %s\n", what, s.ToString().c_str());
    return 1;
  };
  if (!admin_listen.empty() && !admin_insecure && !server::IsLoopbackAddress(admin_listen)) {
    std::fprintf(stderr,
                 "murmur-coordinator: --admin-listen %s is not a loopback address; the Admin "
                 "service has no TLS or authentication yet: use 127.0.0.1:PORT, or pass "
                 "--admin-insecure to expose it anyway\n",
                 admin_listen.c_str());
    return 2;
  }

  auto store = server::store::Store::Open(
      {.dir = state_dir, .keep_checkpoints = keep_checkpoints, .keep_every = keep_every});
  if (!store.ok()) return die(store.status(), "opening the state dir");
  auto initial = LoadInitialModel(store->get(), init_path, state_dir);
  if (!initial.ok()) return die(initial.status(), "initial model");
  Rng rng(static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}());
  auto engine = server::RoundEngine::Create(cfg, std::move(*initial), SystemClock::Default(), &rng,
                                            store->get());
  if (!engine.ok()) return die(engine.status(), "starting the engine");
  (*engine)->SetRoundObserver([](const server::RoundSummary& r) {
    log::Info("round closed", {{"version", r.version}, {"updates", r.num_updates},
                               {"step_norm", r.update_norm}, {"client_loss", r.mean_client_loss}});
  });

  server::CoordinatorService service(engine->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || port == 0) {
    std::fprintf(stderr, "murmur-coordinator: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  server::AdminService admin_service(engine->get(), store->get());
  std::unique_ptr<grpc::Server> admin_server;
  int admin_port = 0;
  if (!admin_listen.empty()) {
    if (!server::IsLoopbackAddress(admin_listen)) {
      log::Warn("the Admin service listens on a non-loopback address without TLS or "
                "authentication (--admin-insecure)", {{"admin_listen", admin_listen}});
    }
    grpc::ServerBuilder admin_builder;
    admin_builder.AddListeningPort(admin_listen, grpc::InsecureServerCredentials(), &admin_port);
    admin_builder.RegisterService(&admin_service);
    admin_server = admin_builder.BuildAndStart();
    if (!admin_server || admin_port == 0) {
      std::fprintf(stderr, "murmur-coordinator: cannot listen on --admin-listen %s\n",
                   admin_listen.c_str());
      grpc_server->Shutdown();
      return 1;
    }
    log::Info("admin serving", {{"admin_listen", admin_listen}, {"port", admin_port}});
  }
  log::Info("coordinator serving", {{"listen", listen}, {"port", port},
                                    {"strategy", cfg.strategy.name}, {"version", (*engine)->version()},
                                    {"state_dir", state_dir}});
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop && !(*engine)->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  grpc_server->Shutdown();
  if (admin_server) admin_server->Shutdown();
  if (Status s = (*engine)->Flush(); !s.ok()) return die(s, "flushing");
  log::Info("coordinator stopped", {{"version", (*engine)->version()}});
  return 0;
}
