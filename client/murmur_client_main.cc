// murmur-client: the daemon that takes part in a murmur job on its own
// terms. It registers with the coordinator once (identity kept in its state
// directory), then its participation policy decides when it trains and how
// many local steps; finished updates go through an on-disk outbox so nothing
// trained is lost to a crash or a coordinator outage.
//
//   murmur-client --config /etc/murmur/client.toml
//   murmur-client --coordinator coord.example:7070 --tls-ca ca.pem
//       --tls-cert me.pem --tls-key me.key --name edge-7
//       --data.fashion-mnist-dir /usr/share/datasets/fashion-mnist
//       --data.client-index 7 --data.num-clients 20 --model dim=16,depth=1
//   murmur-client status --state-dir murmur-client-state
//
// Boost.Asio runs the main thread: SIGINT/SIGTERM stop the participant at
// the next step boundary (a trained update stays in the outbox), SIGHUP
// re-reads the config file and applies its [policy] section, a timer logs a
// heartbeat. Training runs on a thread of its own.
//
// Exit codes: 0 stopped or job finished, 1 a fatal error (logged), 2 bad
// flags or configuration.
#include <fmt/format.h>

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "client/client_data.h"
#include "client/daemon_config.h"
#include "client/runtime/atomic_file.h"
#include "client/runtime/outbox.h"
#include "client/runtime/participant.h"
#include "client/runtime/state_dir.h"
#include "client/transport/channel.h"
#include "common/config.h"
#include "common/logging.h"
#include "ml/cpu_threads.h"
#include "ml/model_config.h"

namespace {

using namespace murmur;
using namespace murmur::client;

std::string FormatTime(double unix_s) {
  if (unix_s <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

int Status_(const std::string& dir) {
  Result<StateDir> state = StateDir::OpenExisting(dir);
  if (!state.ok()) {
    std::fprintf(stderr, "%s\n", state.status().ToString().c_str());
    return 1;
  }
  Result<std::optional<ClientIdentity>> id = state->LoadIdentity();
  Result<ParticipationRecord> rec = state->LoadParticipation();
  Result<std::vector<OutboxSummary>> box = Outbox(state->outbox_dir()).Summarize();
  if (!id.ok() || !rec.ok() || !box.ok()) {
    std::fprintf(stderr, "%s\n",
                 (!id.ok() ? id.status() : !rec.ok() ? rec.status() : box.status()).ToString().c_str());
    return 1;
  }
  std::printf("state dir      %s\n", dir.c_str());
  if (*id) {
    std::printf("client         %s (id %llu)\n", (*id)->name.c_str(),
                static_cast<unsigned long long>((*id)->client_id));
  } else {
    std::printf("client         not registered yet\n");
  }
  std::printf("last           %s\n", FormatTime(rec->at_s).c_str());
  if (rec->at_s > 0) {
    std::printf("  outcome      %s\n", rec->outcome.c_str());
    std::printf("  base version %llu, K %u, train %.2f s, loss %.4f\n",
                static_cast<unsigned long long>(rec->base_version), rec->local_steps,
                rec->train_seconds, rec->mean_loss);
  }
  std::printf("totals         %llu accepted, %llu rejected\n",
              static_cast<unsigned long long>(rec->accepted_total),
              static_cast<unsigned long long>(rec->rejected_total));
  std::printf("budget today   %.1f s used\n", rec->budget_used_s);
  std::printf("outbox         %zu update(s)\n", box->size());
  for (const auto& e : *box) {
    std::printf("  %s  base version %llu, K %u, %llu bytes, saved %s\n", e.id.c_str(),
                static_cast<unsigned long long>(e.base_version), e.local_steps,
                static_cast<unsigned long long>(e.payload_bytes), FormatTime(e.created_s).c_str());
  }
  Result<std::optional<std::string>> policy = ReadFileIfExists(dir + "/policy.txt");
  std::printf("policy         %s\n",
              policy.ok() && *policy ? (*policy)->c_str() : "(not recorded yet)\n");
  return 0;
}

// Re-parses the command line (and so the config file) for SIGHUP.
Result<DaemonConfig> ParseConfig(const std::vector<std::string>& args) {
  DaemonConfig c;
  CLI::App app;
  AddDaemonFlags(app, &c);
  MURMUR_RETURN_IF_ERROR(ParseArgs(app, args));
  MURMUR_RETURN_IF_ERROR(FinishDaemonConfig(&c));
  return c;
}

void SavePolicyDescription(const StateDir& state, const std::string& text) {
  if (Status st = WriteFileAtomically(state.path() + "/policy.txt", text + "\n"); !st.ok()) {
    log::Warn("cannot record the policy", {{"error", st.ToString()}});
  }
}

int Run(DaemonConfig cfg, const std::vector<std::string>& args) {
  Result<model::ModelConfig> model = model::ParseModelConfig(cfg.model);
  if (!model.ok()) {
    log::Error("bad --model", {{"error", model.status().ToString()}});
    return 2;
  }
  Result<PolicyConfig> policy_cfg = ToPolicyConfig(cfg.policy);
  if (!policy_cfg.ok()) {
    log::Error("bad policy", {{"error", policy_cfg.status().ToString()}});
    return 2;
  }
  Result<std::unique_ptr<ClientData>> data = ClientData::Load(cfg.data);
  if (!data.ok()) {
    log::Error("cannot load the training data", {{"error", data.status().ToString()}});
    return 2;
  }
  if (Status st = (*data)->examples().CheckFits(*model); !st.ok()) {
    log::Error("the data does not fit the model", {{"error", st.ToString()}});
    return 2;
  }
  Result<StateDir> state = StateDir::Open(cfg.state_dir);
  if (!state.ok()) {
    log::Error("cannot open the state directory", {{"error", state.status().ToString()}});
    return 2;
  }
  // gRPC reconnects no more lazily than the daemon's own backoff retries.
  cfg.connect.max_reconnect_backoff_s =
      std::min(cfg.connect.max_reconnect_backoff_s, std::max(cfg.backoff_max_s, 0.1));
  Result<std::unique_ptr<api::CoordinatorApi>> api = ConnectCoordinator(cfg.connect);
  if (!api.ok()) {
    log::Error("cannot set up the connection", {{"error", api.status().ToString()}});
    return 2;
  }
  const int threads = model::ConfigureCpuThreads(cfg.threads);

  SystemSensors sensors;
  ParticipantOptions po;
  po.name = cfg.name;
  po.enrollment_secret = cfg.enrollment_secret;
  po.model = *model;
  po.train.device = cfg.device;
  po.seed = cfg.seed;
  po.backoff = ToBackoffOptions(cfg);
  po.exit_when_finished = cfg.exit_when_finished;
  po.max_participations = cfg.max_participations;
  // The participant replaces the device with the one the trainer picks.
  po.capabilities.device = cfg.device;
  po.capabilities.encodings = {Encoding::kFp32, Encoding::kFp16, Encoding::kBf16,
                               Encoding::kInt8};  // the codec produces all four
  po.capabilities.num_samples = (*data)->shard().size();
  po.capabilities.max_local_steps = policy_cfg->k_max;
  auto policy = std::make_unique<ConfiguredPolicy>(*policy_cfg, SystemClock::Default(), &sensors,
                                                   Rng(cfg.seed).Fork(3));
  SavePolicyDescription(*state, policy->Describe());
  log::Info("murmur-client starting",
            {{"name", cfg.name}, {"coordinator", cfg.connect.address},
             {"security", DescribeSecurity(cfg.connect)}, {"state_dir", cfg.state_dir},
             {"data", (*data)->Describe()}, {"model", model::ModelConfigToString(*model)},
             {"device_flag", cfg.device}, {"threads", threads}, {"policy", policy->Describe()}});
  Participant participant(po, api->get(), std::move(policy), *state, SystemClock::Default(),
                          &(*data)->examples(), (*data)->shard());

  boost::asio::io_context io;
  Status result;
  std::thread trainer([&] {
    result = participant.Run();
    boost::asio::post(io, [&] { io.stop(); });
  });

  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_stop =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (participant.stopping()) {
          log::Warn("second signal: exiting now", {{"signal", sig}});
          std::_Exit(130);
        }
        log::Info("stopping at the next step boundary", {{"signal", sig}});
        participant.Stop();
        stop_signals.async_wait(on_stop);
      };
  stop_signals.async_wait(on_stop);

  boost::asio::signal_set hup(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        Result<DaemonConfig> fresh = ParseConfig(args);
        Result<PolicyConfig> pc = fresh.ok() ? ToPolicyConfig(fresh->policy)
                                             : Result<PolicyConfig>(fresh.status());
        if (!pc.ok()) {
          log::Error("SIGHUP: config not reloaded", {{"error", pc.status().ToString()}});
        } else {
          auto next = std::make_unique<ConfiguredPolicy>(*pc, SystemClock::Default(), &sensors,
                                                         Rng(cfg.seed).Fork(4));
          SavePolicyDescription(*state, next->Describe());
          log::Info("SIGHUP: policy reloaded (other settings apply at restart)",
                    {{"policy", next->Describe()}});
          participant.ReplacePolicy(std::move(next));
        }
        hup.async_wait(on_hup);
      };
  hup.async_wait(on_hup);

  boost::asio::steady_timer heartbeat(io);
  std::function<void(const boost::system::error_code&)> on_beat =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        const ParticipantStats s = participant.stats();
        log::Info("heartbeat", {{"trained", s.trained}, {"accepted", s.accepted},
                                {"rejected", s.rejected}, {"version", s.last_version},
                                {"transient_errors", s.transient_errors}});
        heartbeat.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(cfg.heartbeat_s)));
        heartbeat.async_wait(on_beat);
      };
  if (cfg.heartbeat_s > 0) {
    heartbeat.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(cfg.heartbeat_s)));
    heartbeat.async_wait(on_beat);
  }

  io.run();
  participant.Stop();
  trainer.join();
  const ParticipantStats s = participant.stats();
  if (!result.ok()) {
    log::Error("murmur-client failed", {{"error", result.ToString()}});
    return 1;
  }
  log::Info("murmur-client done", {{"trained", s.trained}, {"accepted", s.accepted},
                                   {"rejected", s.rejected}, {"finished", s.finished}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `murmur-client status --state-dir D` reads the state directory only.
  if (argc >= 2 && std::string(argv[1]) == "status") {
    CLI::App app{"murmur-client status: last participation, outbox and policy of a client"};
    std::string dir = "murmur-client-state";
    app.add_option("--state-dir", dir, "The client's state directory")->capture_default_str();
    try {
      app.parse(argc - 1, argv + 1);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return Status_(dir);
  }
  DaemonConfig cfg;
  CLI::App app{
      "murmur-client: takes part in a murmur federated-learning job on its own terms.\n"
      "Subcommand: murmur-client status --state-dir D (last participation, outbox, policy)."};
  AddDaemonFlags(app, &cfg);
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status st = log::Init(cfg.log); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 2;
  }
  if (Status st = FinishDaemonConfig(&cfg); !st.ok()) {
    log::Error("bad configuration", {{"error", st.ToString()}});
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  return Run(std::move(cfg), args);
}
