// The kill -9 test: the coordinator's engine, running against a SQLite store
// in a temp dir, is SIGKILLed at random moments and restarted, again and
// again; then the run finishes cleanly and everything is checked:
//   - versions only ever advance (within a run and across restarts);
//   - every acknowledged update is in the history exactly once, accepted,
//     in the round its acknowledgement named; no update is accepted twice;
//     every round holds exactly the updates its row counts;
//   - the final global model equals, bit for bit, a reference computed
//     without kills: the strategy replayed from the initial model over the
//     same sequence of accepted updates (each client's update is a
//     deterministic function of (client, base version)); the recorded
//     weights and the strategy state match the replay too;
//   - SQLite's integrity_check is "ok".
//
// One binary, two roles: run plainly it is the driver; `--child` makes it
// the coordinator process the driver starts (no gRPC: simulated clients
// call the engine in-process, from several threads).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/codec/tensor_codec.h"
#include "common/rng.h"
#include "server/engine/round_engine.h"
#include "server/store/store.h"
#include "server/strategy/strategy_factory.h"

extern char** environ;

namespace murmur {
namespace {

using server::store::Store;

constexpr int kClients = 6;
constexpr int kThreads = 3;
const ModelSpec kSpec = {{"layer.weight", {32, 48}}, {"layer.bias", {48}}};

server::EngineConfig Config(uint64_t max_rounds) {
  server::EngineConfig c;
  c.mode = server::RoundMode::kAsync;
  c.updates_per_round = 4;
  c.strategy = {.name = "afa_fedau", .server_lr = 0.5, .fedau_k_cut = 8};
  c.max_staleness = 2;
  c.max_rounds = max_rounds;
  c.recipe.local_lr = 0.05;
  c.recipe.min_local_steps = 1;
  c.recipe.max_local_steps = 8;
  return c;
}

TensorList InitialModel() {
  Rng rng(2024);
  return RandomNormal(kSpec, rng, 0.1);
}

// The update client `client` sends from base version `base`: a deterministic
// function of the two, encoded fp32 for even clients and fp16 for odd ones.
std::string UpdatePayload(uint64_t client, uint64_t base) {
  Rng rng(Mix64(client * 1'000'003 + base));
  TensorList delta = RandomNormal(kSpec, rng, 0.01);
  const Encoding e = client % 2 == 0 ? Encoding::kFp32 : Encoding::kFp16;
  return *EncodeTensors(delta, {.encoding = e});
}
uint32_t StepsFor(uint64_t client, uint64_t base) { return 1 + (client + base) % 8; }

// One line per write(2) on an O_APPEND descriptor: a kill never tears a line
// in the middle of another (a torn last line is ignored by the parser).
class EventLog {
 public:
  explicit EventLog(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) {}
  ~EventLog() { ::close(fd_); }
  void Line(const std::string& s) {
    const std::string l = s + "\n";
    if (::write(fd_, l.data(), l.size()) < 0) std::perror("event log");
  }

 private:
  int fd_;
};

// ---------------------------------------------------------------- child --

int RunChild(const std::string& dir, int run, uint64_t extra_rounds) {
  auto store = Store::Open({.dir = dir});
  if (!store.ok()) {
    std::fprintf(stderr, "child: %s\n", store.status().ToString().c_str());
    return 3;
  }
  uint64_t max_rounds = 1'000'000'000;
  if (extra_rounds > 0) {
    auto v = (*store)->LatestVersion();
    if (!v.ok()) return 3;
    max_rounds = (*v == 0 ? 0 : *v - 1) + extra_rounds;
  }
  EventLog events(dir + "/events.log");
  Rng engine_rng(Mix64(run));
  auto created = server::RoundEngine::Create(Config(max_rounds), InitialModel(),
                                             SystemClock::Default(), &engine_rng, store->get());
  if (!created.ok()) {
    std::fprintf(stderr, "child: %s\n", created.status().ToString().c_str());
    return 3;
  }
  server::RoundEngine& engine = **created;
  events.Line("S " + std::to_string(run) + " " + std::to_string(engine.version()));
  engine.SetRoundObserver([&](const server::RoundSummary& r) {
    events.Line("R " + std::to_string(run) + " " + std::to_string(r.version));
  });
  // Every client is registered (durably) before anyone trains, so the set
  // of clients is the same in every round.
  std::vector<server::Registration> regs;
  for (int i = 0; i < kClients; ++i) {
    const std::string name = "sim-" + std::to_string(i);
    auto r = engine.Register(name, {.device = "cpu"}, "secret-" + name);
    if (!r.ok()) return 3;
    regs.push_back(*r);
  }
  if (!engine.Flush().ok()) return 3;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Rng rng(Mix64(run * 100 + t));
      std::vector<int> mine;
      for (int i = t; i < kClients; i += kThreads) mine.push_back(i);
      std::map<uint64_t, uint64_t> last_sent;  // client -> base of its last update this run
      while (!failed) {
        const server::Registration& r = regs[mine[rng.UniformInt(mine.size())]];
        auto d = engine.CheckIn(r.client_id, r.token, 4);
        if (!d.ok()) {
          failed = true;
          return;
        }
        if (d->kind == server::CheckInDecision::Kind::kFinished) return;
        if (d->kind == server::CheckInDecision::Kind::kWait) continue;
        const uint64_t base = d->model_version;
        if (last_sent[r.client_id] == base) {
          // Nothing new to say from this version (the update is a function of
          // (client, base)); a restarted process does not know and resends,
          // which the engine must count once.
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        last_sent[r.client_id] = base;
        server::UpdateMeta m{.client_id = r.client_id, .token = r.token, .base_version = base,
                             .local_steps = StepsFor(r.client_id, base),
                             .num_samples = 10 + r.client_id, .mean_loss = 1.0 / double(base)};
        // Some "training time", so updates go stale now and then.
        std::this_thread::sleep_for(std::chrono::microseconds(rng.UniformInt(8000)));
        server::UpdateOutcome o = engine.SubmitUpdate(m, UpdatePayload(r.client_id, base));
        if (o.accepted) {
          events.Line("A " + std::to_string(run) + " " + std::to_string(r.client_id) + " " +
                      std::to_string(base) + " " + std::to_string(o.round_version));
        } else if (o.reason == server::RejectReason::kInternal) {
          std::fprintf(stderr, "child: %s\n", o.message.c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  if (failed || !engine.health().ok()) return 4;
  if (!engine.Flush().ok()) return 4;
  events.Line("F " + std::to_string(run) + " " + std::to_string(engine.version()));
  return 0;
}

// --------------------------------------------------------------- driver --

struct Failure {
  std::vector<std::string> lines;
  void Add(const std::string& s) { lines.push_back(s); }
};

pid_t Spawn(const std::string& self, const std::vector<std::string>& args,
            const std::string& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(self.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool SameBits(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].data.size() != b[i].data.size() ||
        std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

int RunDriver(const std::string& self, uint64_t seed, int kills, bool keep) {
  const auto t0 = std::chrono::steady_clock::now();
  char tmpl[] = "/tmp/murmur-restart-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 2;
  const std::string dir = tmpl;
  const std::string log = dir + "/child.log";
  std::printf("restart test: seed %llu, dir %s\n", static_cast<unsigned long long>(seed),
              dir.c_str());
  Rng rng(seed);
  int run = 0;
  int killed_running = 0;
  for (int k = 0; k < kills; ++k, ++run) {
    pid_t pid = Spawn(self, {"--child", dir, std::to_string(run), "0"}, log);
    if (pid < 0) return 2;
    const int delay_ms = 5 + static_cast<int>(rng.UniformInt(400));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "child run %d exited on its own (status %d):\n%s\n", run, status,
                   ReadFile(log).c_str());
      return 1;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed_running;
  }
  // The last run ends on its own, 40 rounds after where it starts.
  pid_t pid = Spawn(self, {"--child", dir, std::to_string(run), "40"}, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "final child run failed (status %d):\n%s\n", status,
                 ReadFile(log).c_str());
    return 1;
  }

  Failure fail;
  // ---- the events the children wrote ----
  std::map<int, std::vector<uint64_t>> rounds_by_run;
  std::map<int, uint64_t> start_by_run;
  struct Ack {
    uint64_t client, base, round;
  };
  std::vector<Ack> acks;
  {
    std::istringstream in(ReadFile(dir + "/events.log"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      char kind = 0;
      int r = 0;
      ls >> kind >> r;
      uint64_t a = 0, b = 0, c = 0;
      if (kind == 'S' && (ls >> a)) start_by_run[r] = a;
      if (kind == 'R' && (ls >> a)) rounds_by_run[r].push_back(a);
      if (kind == 'A' && (ls >> a >> b >> c)) acks.push_back({a, b, c});
    }
  }
  uint64_t last_seen = 0;  // versions only move forward, across runs too
  for (int r = 0; r <= run; ++r) {
    if (start_by_run.contains(r)) {
      if (start_by_run[r] < last_seen) {
        fail.Add("run " + std::to_string(r) + " resumed at version " +
                 std::to_string(start_by_run[r]) + " after version " +
                 std::to_string(last_seen) + " was published");
      }
      last_seen = std::max(last_seen, start_by_run[r]);
    }
    for (uint64_t v : rounds_by_run[r]) {
      if (v <= last_seen) {
        fail.Add("run " + std::to_string(r) + " published version " + std::to_string(v) +
                 " after version " + std::to_string(last_seen));
      }
      last_seen = v;
    }
  }

  // ---- the store ----
  auto store = Store::Open({.dir = dir, .create_if_missing = false});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  Store& s = **store;
  const std::string integrity = *s.IntegrityCheck();
  if (integrity != "ok") fail.Add("integrity_check: " + integrity);
  const server::EngineConfig cfg = Config(0);
  auto rec = s.Recover(kSpec, 0);
  if (!rec.ok()) {
    std::fprintf(stderr, "%s\n", rec.status().ToString().c_str());
    return 1;
  }
  const uint64_t final_version = rec->version;
  auto participations = *s.ListParticipations(0, 0);
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> accepted;  // (client, base) -> round
  std::map<uint64_t, int> per_round;
  std::map<int, int> rejected_by_reason;
  for (const auto& p : participations) {
    if (!p.accepted) {
      ++rejected_by_reason[p.reject_reason];
      continue;
    }
    if (!accepted.emplace(std::make_pair(p.client_id, p.base_version), p.round_version).second) {
      fail.Add("update (client " + std::to_string(p.client_id) + ", base " +
               std::to_string(p.base_version) + ") was accepted twice");
    }
    if (p.round_version < 2 || p.round_version > final_version + 1) {
      fail.Add("accepted update " + std::to_string(p.id) + " is in round " +
               std::to_string(p.round_version) + " (final version " +
               std::to_string(final_version) + ")");
    }
    ++per_round[p.round_version];
  }
  for (const Ack& a : acks) {
    auto it = accepted.find({a.client, a.base});
    if (it == accepted.end()) {
      fail.Add("acknowledged update (client " + std::to_string(a.client) + ", base " +
               std::to_string(a.base) + ") is missing from the history");
    } else if (it->second != a.round) {
      fail.Add("acknowledged update (client " + std::to_string(a.client) + ", base " +
               std::to_string(a.base) + ") was promised round " + std::to_string(a.round) +
               " but is in round " + std::to_string(it->second));
    }
  }
  if (static_cast<size_t>(per_round[final_version + 1]) != rec->buffer.size()) {
    fail.Add("the open round has " + std::to_string(per_round[final_version + 1]) +
             " accepted updates but " + std::to_string(rec->buffer.size()) + " are buffered");
  }

  // ---- the reference replay, without kills ----
  std::vector<uint64_t> all_clients;
  const std::vector<server::store::ClientRecord> clients = *s.ListClients(0, 1000);
  for (const auto& c : clients) all_clients.push_back(c.client_id);
  if (all_clients.size() != kClients) fail.Add("expected 6 registered clients");
  auto rule = *server::strategy::MakeStrategy(cfg.strategy);
  TensorList x = InitialModel();
  server::strategy::StrategyState state;
  const auto rounds = *s.ListRounds(0, 1'000'000);
  uint64_t expect_version = 2;
  for (const auto& round : rounds) {
    if (round.version != expect_version) {
      fail.Add("round versions are not contiguous: " + std::to_string(round.version) +
               " after " + std::to_string(expect_version - 1));
      break;
    }
    ++expect_version;
    auto parts = *s.RoundParticipants(round.version);
    if (parts.size() != round.num_updates || static_cast<int>(parts.size()) != per_round[round.version]) {
      fail.Add("round " + std::to_string(round.version) + " counts " +
               std::to_string(round.num_updates) + " updates but holds " +
               std::to_string(parts.size()));
    }
    std::vector<server::strategy::ClientUpdate> updates;
    for (const auto& p : parts) {
      updates.push_back({.client_id = p.client_id,
                         .delta = *DecodeTensors(UpdatePayload(p.client_id, p.base_version)),
                         .local_steps = StepsFor(p.client_id, p.base_version),
                         .num_samples = 10 + p.client_id,
                         .base_version = p.base_version,
                         .staleness = round.version - 1 - p.base_version,
                         .local_lr = cfg.recipe.local_lr});
      if (p.local_steps != StepsFor(p.client_id, p.base_version)) fail.Add("K was not recorded");
    }
    server::strategy::RoundInput in{.round = round.version - 1, .global = &x, .updates = updates,
                            .all_clients = all_clients};
    auto step = rule->Aggregate(in, state);
    if (!step.ok()) {
      fail.Add("reference aggregation failed: " + step.status().ToString());
      break;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i].weight || *parts[i].weight != step->weights[i]) {
        fail.Add("round " + std::to_string(round.version) + ": recorded weight of update " +
                 std::to_string(parts[i].id) + " differs from the replay");
      }
    }
    x = std::move(step->new_global);
    state = std::move(step->new_state);
  }
  if (expect_version - 1 != final_version) {
    fail.Add("the last round is " + std::to_string(expect_version - 1) +
             " but the store's version is " + std::to_string(final_version));
  }
  if (!SameBits(x, rec->model)) fail.Add("the final model differs from the reference replay");
  if (!SameBits(x, *s.LoadCheckpoint(0))) fail.Add("the last checkpoint differs from the replay");
  if (*server::strategy::SerializeState(state) != rec->strategy_state) {
    fail.Add("the strategy state differs from the reference replay");
  }

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int rejected = 0;
  std::string reasons;
  for (const auto& [reason, n] : rejected_by_reason) {
    rejected += n;
    reasons += " " + std::string(server::RejectReasonName(server::RejectReason(reason))) + "=" +
               std::to_string(n);
  }
  std::printf(
      "restart test: %d runs SIGKILLed (%d while running), then a clean run; final version %llu; "
      "%zu updates accepted (%zu acknowledged before a kill or the end), %d rejected (%s ); "
      "%.1f s\n",
      kills, killed_running, static_cast<unsigned long long>(final_version), accepted.size(),
      acks.size(), rejected, reasons.c_str(), secs);
  if (!fail.lines.empty()) {
    for (size_t i = 0; i < fail.lines.size() && i < 30; ++i) {
      std::fprintf(stderr, "FAIL: %s\n", fail.lines[i].c_str());
    }
    std::fprintf(stderr, "kept %s for inspection\n", dir.c_str());
    return 1;
  }
  if (final_version < 40) {
    std::fprintf(stderr, "FAIL: too little progress (final version %llu)\n",
                 static_cast<unsigned long long>(final_version));
    return 1;
  }
  if (!keep) std::filesystem::remove_all(dir);
  std::printf("restart test: OK\n");
  return 0;
}

}  // namespace
}  // namespace murmur

int main(int argc, char** argv) {
  if (argc >= 5 && std::strcmp(argv[1], "--child") == 0) {
    return murmur::RunChild(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10));
  }
  uint64_t seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  int kills = 24;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    if (std::strcmp(argv[i], "--kills") == 0 && i + 1 < argc) kills = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--keep") == 0) keep = true;
  }
  // /proc/self/exe: the same binary plays the coordinator.
  std::string self(4096, '\0');
  ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) return 2;
  self.resize(static_cast<size_t>(n));
  return murmur::RunDriver(self, seed, kills, keep);
}
