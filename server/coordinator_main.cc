// murmur-coordinator: the coordinator as a long-running gRPC server.
//
// Serves murmur.v1.Coordinator on --listen with the round engine behind it,
// recording everything in a SQLite store under --state-dir. Started again on
// the same state dir it resumes exactly where it stopped (same version,
// model, strategy state and history). The initial model is the default
// Fashion-MNIST linear-attention model (deterministic from its init seed),
// or a named-tensor file given with --init.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "client/local_trainer.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/model/model_config.h"
#include "common/model/tensor_file.h"
#include "server/engine_flags.h"
#include "server/round_engine.h"
#include "server/service/coordinator_service.h"
#include "server/store/store.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  using namespace murmur;
  std::string listen = "127.0.0.1:7070";
  std::string state_dir = "murmur-state";
  std::string init_path;
  std::string model_text;
  server::EngineConfig cfg;
  cfg.strategy.name = "afa_cd";
  log::Options log_options;
  CLI::App app{"murmur-coordinator: federated-learning coordinator (gRPC + SQLite)"};
  AddConfigFileOption(app);
  AddLogOptions(app, &log_options);
  app.add_option("--listen", listen, "Address to serve on")->capture_default_str();
  app.add_option("--state-dir", state_dir, "SQLite history and checkpoints (resumed if present)")
      ->capture_default_str();
  app.add_option("--init", init_path, "Initial model: a named-tensor file (default: fresh model)");
  app.add_option("--model", model_text, "Model config overrides, e.g. dim=64,depth=2");
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

  auto model_config = model::ParseModelConfig(model_text);
  if (!model_config.ok()) return die(model_config.status(), "--model");
  auto trainer = trainer::LocalTrainer::Create(*model_config, {});
  if (!trainer.ok()) return die(trainer.status(), "building the model");
  TensorList initial = (*trainer)->GetParameters();
  if (!init_path.empty()) {
    const ModelSpec spec = SpecOf(initial);
    auto loaded = model::ReadTensorFile(init_path, &spec);
    if (!loaded.ok()) return die(loaded.status(), "--init");
    initial = std::move(*loaded);
  }
  auto store = server::store::Store::Open({.dir = state_dir});
  if (!store.ok()) return die(store.status(), "opening the state dir");
  Rng rng(static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}());
  auto engine = server::RoundEngine::Create(cfg, std::move(initial), SystemClock::Default(), &rng,
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
  log::Info("coordinator serving", {{"listen", listen}, {"port", port},
                                    {"strategy", cfg.strategy.name}, {"version", (*engine)->version()},
                                    {"state_dir", state_dir}});
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop && !(*engine)->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  grpc_server->Shutdown();
  if (Status s = (*engine)->Flush(); !s.ok()) return die(s, "flushing");
  log::Info("coordinator stopped", {{"version", (*engine)->version()}});
  return 0;
}
