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
// murmurctl) is served on its own listener, --admin-listen. Prometheus
// metrics (text format 0.0.4) are served over HTTP at GET /metrics on
// --metrics-listen (loopback by default; elsewhere only with
// --metrics-insecure, as it has no authentication).
//
// Security: --tls-cert/--tls-key serve TLS, and --tls-client-ca mTLS (every
// client presents a certificate signed by that CA). A non-loopback --listen
// without TLS is refused unless --insecure is given (then a warning is
// logged). The Admin listener is plaintext on a loopback address (murmurctl
// on the same machine); on any other address it serves the same TLS
// credentials and, having no authentication of its own, needs mTLS or
// --admin-insecure.
//
// Lifetime: after the job finishes (--max-rounds) the coordinator keeps
// serving, answering "finished" to check-ins with Admin still up, until
// SIGINT/SIGTERM (exit 0). When the engine fail-stops it shuts down and
// exits 3 with the reason logged. When gRPC reports that a listener stopped
// accepting connections (gRPC 1.51 gives up after one failed accept4, e.g.
// out of descriptors: grpc_log_watch.h) it shuts down and exits 4, for its
// supervisor to restart it (the state resumes exactly). Both listeners get a ResourceQuota, a
// per-connection stream cap, keepalive, the grpc.health.v1 health service
// and a shutdown deadline (--shutdown-grace-s).
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <cstdio>
#include <thread>

#include "common/codec/tensor_file.h"
#include "common/config.h"
#include "common/logging.h"
#include "server/engine_flags.h"
#include "server/engine/round_engine.h"
#include "server/service/admin_service.h"
#include "server/service/grpc_log_watch.h"
#include "server/service/coordinator_metrics.h"
#include "server/service/coordinator_service.h"
#include "server/service/metrics_http.h"
#include "server/service/loopback_address.h"
#include "server/service/open_file_limit.h"
#include "server/service/server_credentials.h"
#include "server/service/server_tuning.h"
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
  std::string metrics_listen = "127.0.0.1:9464";
  bool metrics_insecure = false;
  server::TlsOptions tls;
  bool insecure = false;
  server::ServerTuning tuning;
  double shutdown_grace_s = 10;
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
               "Allow --admin-listen on a non-loopback address without mTLS (no client authentication)");
  CLI::Option* metrics_listen_flag =
      app.add_option("--metrics-listen", metrics_listen,
                     "HOST:PORT serving Prometheus metrics over HTTP at GET /metrics; empty: "
                     "none. When the default port is taken the coordinator runs without metrics "
                     "(a warning); a port given here that cannot be bound is an error")
          ->capture_default_str();
  app.add_flag("--metrics-insecure", metrics_insecure,
               "Allow --metrics-listen on a non-loopback address (plain HTTP, no authentication)");
  app.add_option("--tls-cert", tls.cert_path, "Server certificate chain (PEM): serve TLS");
  app.add_option("--tls-key", tls.key_path, "Server private key (PEM), with --tls-cert");
  app.add_option("--tls-client-ca", tls.client_ca_path,
                 "CA bundle (PEM) for mTLS: clients must present a certificate it signed");
  app.add_flag("--insecure", insecure,
               "Allow a non-loopback --listen without TLS (plaintext, logged as a warning)");
  app.add_option("--max-threads", tuning.max_threads,
                 "Most threads gRPC may use for the server (gRPC ResourceQuota)")
      ->capture_default_str();
  app.add_option("--max-grpc-memory-mb", tuning.max_memory_mb,
                 "Memory gRPC may use for buffers, in MiB (gRPC ResourceQuota)")
      ->capture_default_str();
  app.add_option("--max-streams-per-connection", tuning.max_concurrent_streams,
                 "Concurrent calls one connection may have open (HTTP/2)")
      ->capture_default_str();
  app.add_option("--keepalive-s", tuning.keepalive_time_s,
                 "Ping an idle connection after this many seconds")
      ->capture_default_str();
  app.add_option("--keepalive-timeout-s", tuning.keepalive_timeout_s,
                 "Drop a connection whose ping is not answered within this many seconds")
      ->capture_default_str();
  app.add_option("--max-connection-idle-s", tuning.max_connection_idle_s,
                 "Close a connection with no calls for this many seconds (0: never)")
      ->capture_default_str();
  app.add_option("--shutdown-grace-s", shutdown_grace_s,
                 "On SIGINT/SIGTERM, seconds calls in progress get to finish before they are "
                 "cancelled")
      ->capture_default_str();
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
  if (Status s = server::ValidateServerTuning(tuning); !s.ok()) {
    std::fprintf(stderr, "murmur-coordinator: %s\n", s.message().c_str());
    return 2;
  }
  if (!(shutdown_grace_s >= 0)) {
    std::fprintf(stderr, "murmur-coordinator: --shutdown-grace-s must be >= 0\n");
    return 2;
  }
  auto tls_creds = server::MakeServerCredentials(tls);
  if (!tls_creds.ok()) {
    std::fprintf(stderr, "murmur-coordinator: %s\n", tls_creds.status().message().c_str());
    return 2;
  }
  const bool listen_loopback = server::IsLoopbackAddress(listen);
  if (!tls.enabled() && !insecure && !listen_loopback) {
    std::fprintf(stderr,
                 "murmur-coordinator: --listen %s is not a loopback address and no TLS is "
                 "configured: give --tls-cert and --tls-key (and --tls-client-ca for mTLS), "
                 "listen on 127.0.0.1:PORT, or pass --insecure to serve plaintext anyway\n",
                 listen.c_str());
    return 2;
  }
  const bool admin_loopback = server::IsLoopbackAddress(admin_listen);
  if (!admin_listen.empty() && !admin_insecure && !admin_loopback && !tls.mutual()) {
    std::fprintf(stderr,
                 "murmur-coordinator: --admin-listen %s is not a loopback address; the Admin "
                 "service has no authentication of its own: use 127.0.0.1:PORT, configure mTLS "
                 "(--tls-cert, --tls-key, --tls-client-ca), or pass --admin-insecure to expose "
                 "it anyway\n",
                 admin_listen.c_str());
    return 2;
  }
  const bool metrics_loopback = server::IsLoopbackAddress(metrics_listen);
  if (!metrics_listen.empty() && !metrics_insecure && !metrics_loopback) {
    std::fprintf(stderr,
                 "murmur-coordinator: --metrics-listen %s is not a loopback address; the "
                 "metrics endpoint is plain HTTP without authentication: use 127.0.0.1:PORT, "
                 "or pass --metrics-insecure to expose it anyway\n",
                 metrics_listen.c_str());
    return 2;
  }
  if (auto fd = server::RaiseOpenFileLimit(); fd.ok()) {
    log::Info("open-file limit", {{"soft_before", fd->soft_before}, {"soft", fd->soft_after},
                                  {"hard", fd->hard}});
  } else {
    log::Warn("cannot raise the open-file limit", {{"error", fd.status().ToString()}});
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

  // Handlers before the first listener: a signal that arrives once
  // "coordinator serving" is logged must stop the process cleanly.
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  server::InstallGrpcLogWatch();  // gRPC's log lines into ours; a lost listener ends the process
  server::EnableHealthService();
  server::CoordinatorService service(engine->get());
  // One round observer: logs the round and feeds the metrics. The metrics
  // are destroyed before the service and the engine they read; the guard
  // (destroyed first) puts back a log-only observer, so that a round the
  // engine closes while it winds down (a sync deadline) never reaches them.
  server::CoordinatorMetrics metrics(engine->get(), &service.push_budget(),
                                     &service.push_outcomes());
  const auto log_round = [](const server::RoundSummary& r) {
    log::Info("round closed", {{"version", r.version}, {"updates", r.num_updates},
                               {"step_norm", r.update_norm}, {"client_loss", r.mean_client_loss}});
  };
  (*engine)->SetRoundObserver([&metrics, log_round](const server::RoundSummary& r) {
    log_round(r);
    metrics.OnRoundClosed(r);
  });
  struct ObserverGuard {
    server::RoundEngine* engine;
    std::function<void(const server::RoundSummary&)> fallback;
    ~ObserverGuard() { engine->SetRoundObserver(std::move(fallback)); }
  } observer_guard{engine->get(), log_round};
  std::unique_ptr<server::MetricsHttpServer> metrics_server;
  if (!metrics_listen.empty()) {
    auto started = server::MetricsHttpServer::Start(metrics_listen,
                                                    [&metrics] { return metrics.Render(); });
    if (!started.ok() && metrics_listen_flag->count() > 0) {
      std::fprintf(stderr, "murmur-coordinator: --metrics-listen: %s\n",
                   started.status().message().c_str());
      return 1;
    }
    if (started.ok()) metrics_server = std::move(*started);
  }
  if (!metrics_listen.empty() && !metrics_server) {
    log::Warn("no metrics: the default --metrics-listen address is taken (give "
              "--metrics-listen HOST:PORT, or an empty one to silence this)",
              {{"metrics_listen", metrics_listen}});
  } else if (metrics_server) {
    if (!metrics_loopback) {
      log::Warn("metrics are served on a non-loopback address without authentication "
                "(--metrics-insecure)", {{"metrics_listen", metrics_listen}});
    }
    log::Info("metrics serving", {{"metrics_listen", metrics_listen},
                                  {"port", metrics_server->port()}, {"path", "/metrics"}});
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, *tls_creds, &port);
  builder.RegisterService(&service);
  server::ApplyServerTuning(tuning, &builder);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || port == 0) {
    std::fprintf(stderr, "murmur-coordinator: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  const auto shutdown_deadline = [&] {
    return std::chrono::system_clock::now() +
           std::chrono::milliseconds(static_cast<int64_t>(shutdown_grace_s * 1000));
  };
  if (!tls.enabled() && !listen_loopback) {
    log::Warn("the Coordinator service listens on a non-loopback address without TLS: tokens "
              "and models travel in plaintext (--insecure)", {{"listen", listen}});
  }
  server::AdminService admin_service(engine->get(), store->get());
  std::unique_ptr<grpc::Server> admin_server;
  int admin_port = 0;
  if (!admin_listen.empty()) {
    // Loopback: plaintext for murmurctl on this machine. Elsewhere: the
    // coordinator's TLS (mTLS, or --admin-insecure), plaintext only when no
    // TLS is configured at all (--admin-insecure).
    const bool admin_tls = !admin_loopback && tls.enabled();
    if (!admin_loopback && !tls.mutual()) {
      log::Warn("the Admin service listens on a non-loopback address without client "
                "authentication (--admin-insecure)",
                {{"admin_listen", admin_listen}, {"tls", admin_tls}});
    }
    grpc::ServerBuilder admin_builder;
    admin_builder.AddListeningPort(
        admin_listen, admin_tls ? *tls_creds : grpc::InsecureServerCredentials(), &admin_port);
    admin_builder.RegisterService(&admin_service);
    server::ApplyServerTuning(tuning, &admin_builder);
    admin_server = admin_builder.BuildAndStart();
    if (!admin_server || admin_port == 0) {
      std::fprintf(stderr, "murmur-coordinator: cannot listen on --admin-listen %s\n",
                   admin_listen.c_str());
      grpc_server->Shutdown(shutdown_deadline());
      return 1;
    }
    log::Info("admin serving", {{"admin_listen", admin_listen}, {"port", admin_port},
                                {"tls", admin_tls}, {"mtls", admin_tls && tls.mutual()}});
  }
  log::Info("coordinator serving", {{"listen", listen}, {"port", port},
                                    {"strategy", cfg.strategy.name}, {"version", (*engine)->version()},
                                    {"state_dir", state_dir}, {"tls", tls.enabled()},
                                    {"mtls", tls.mutual()}});
  // Serve until a signal; a finished job keeps answering "finished" (a
  // container that exited here would be restarted into the same finished
  // job, forever); a fail-stopped engine ends the process with its reason.
  bool announced_finished = false;
  Status failure;
  bool listener_lost = false;
  while (!g_stop) {
    if (Status h = (*engine)->health(); !h.ok()) {
      failure = h;
      break;
    }
    if (server::GrpcListenerLost()) {
      listener_lost = true;
      break;
    }
    if (!announced_finished && (*engine)->finished()) {
      announced_finished = true;
      log::Info("job finished; still serving (check-ins are answered \"finished\") until "
                "SIGINT or SIGTERM", {{"version", (*engine)->version()}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!failure.ok()) {
    log::Error("the engine stopped (fail-stop); shutting down",
               {{"error", failure.ToString()}, {"version", (*engine)->version()}});
  }
  if (listener_lost) {
    log::Error("a gRPC listener stopped accepting connections; shutting down (exit 4) so the "
               "supervisor restarts the coordinator, which resumes from its state",
               {{"grpc", server::GrpcListenerLossReason()}, {"version", (*engine)->version()}});
  }
  grpc_server->Shutdown(shutdown_deadline());
  if (admin_server) admin_server->Shutdown(shutdown_deadline());
  metrics_server.reset();
  if (!failure.ok()) {
    std::fprintf(stderr, "murmur-coordinator: the engine stopped: %s\n",
                 failure.ToString().c_str());
    return 3;
  }
  if (Status s = (*engine)->Flush(); !s.ok()) return die(s, "flushing");
  log::Info("coordinator stopped", {{"version", (*engine)->version()}});
  if (listener_lost) {
    std::fprintf(stderr,
                 "murmur-coordinator: gRPC stopped accepting connections (%s); restart me\n",
                 server::GrpcListenerLossReason().c_str());
    return 4;
  }
  return 0;
}
