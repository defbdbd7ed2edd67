// murmur-bench-coordinator: how fast the coordinator ingests updates over
// loopback gRPC, against the machine's own memcpy and fdatasync rates.
//
// For each client count C (--clients 8,64,256) it starts a fresh coordinator
// in this process, exactly as murmur-coordinator builds it (SQLite store with
// the default durability and checkpoint retention, RoundEngine in async mode
// with m updates per round and afa_cd, CoordinatorService with its default
// in-flight budget) on 127.0.0.1:0, and C client sessions
// (client::GrpcCoordinator, one channel and one thread each) that register
// once, then loop check-in -> push update for --seconds. Each client encodes
// one random delta once; before each push it rewrites the first value to a
// push counter and recomputes the codec trailer (one XXH3 over the payload),
// so no push is a byte-identical retry that dedup would answer without
// ingesting it.
//
// Per C: accepted updates/s, accepted payload MB/s, client-side PushUpdate
// p99 latency, rejected (by reason) and busy (UNAVAILABLE) counts, and the
// peak RSS (VmHWM, reset per C through /proc/self/clear_refs when the kernel
// allows it; the clients' memory is part of it: they run in this process,
// each holding its encoded update). The engine's own accepted count is
// checked against the clients' count so nothing is lost silently. In the same run: single-thread
// memcpy MB/s and 4 MB write + fdatasync MB/s in the state directory, and
// the goal check (at C = 64: ingest >= min(10% memcpy, 50% disk)).
//
//   murmur-bench-coordinator --json bench_coordinator.json
//   murmur-bench-coordinator --params 20000 --clients 2,4 --seconds 1   (smoke)
//   murmur-bench-coordinator --breakdown   (also times the per-update steps alone)
//
// Threading: main thread drives; each client session runs on its own thread
// and touches only its own counters until it is joined.
#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client/transport/grpc_coordinator.h"
#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "common/config.h"
#include "common/logging.h"
#include "server/engine/round_engine.h"
#include "server/service/coordinator_service.h"
#include "server/store/checkpoint_retention.h"
#include "server/store/sqlite_store.h"
#include "tools/bench_coordinator_breakdown.h"

namespace {

using namespace murmur;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Flags {
  int64_t params = 1'000'000;
  std::string clients = "8,64,256";
  double seconds = 10;
  uint32_t updates_per_round = 8;
  uint64_t max_staleness = 0;  // 0: auto
  std::string state_dir;
  std::string json;
  bool breakdown = false;
  int disk_writes = 64;
};

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The model: a few named tensors holding `params` fp32 values in all.
TensorList MakeModel(int64_t params) {
  const int64_t a = params / 2, b = params / 4, c = params / 8;
  const int64_t d = params - a - b - c;
  TensorList m;
  auto add = [&](std::string name, int64_t n) {
    if (n > 0) m.push_back({std::move(name), {n}, std::vector<float>(static_cast<size_t>(n), 0.f)});
  };
  add("encoder.weight", a);
  add("attention.qkv", b);
  add("mlp.weight", c);
  add("head.weight", d);
  return m;
}

// Rewrites the first fp32 value of the first tensor of a codec payload and
// its XXH3 trailer (layout: common/codec/tensor_codec.h).
class PayloadPatcher {
 public:
  explicit PayloadPatcher(const Tensor& first)
      : value_offset_(kCodecHeaderBytes + 2 + first.name.size() + 1 + 1 +
                      8 * first.shape.size()) {}
  void Patch(std::string* payload, float value) const {
    std::memcpy(payload->data() + value_offset_, &value, sizeof value);
    const size_t body = payload->size() - kCodecTrailerBytes;
    const uint64_t sum = Xxh3(payload->data(), body);
    std::memcpy(payload->data() + body, &sum, sizeof sum);
  }

 private:
  size_t value_offset_;
};

// VmHWM in MB, or -1.
double PeakRssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false when not allowed.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double MemcpyMbPerS() {
  const size_t bytes = size_t{256} << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);  // touched: no page faults timed
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    src[static_cast<size_t>(rep)] = static_cast<char>(rep);
    const auto t0 = Clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    const double s = Seconds(t0, Clock::now());
    best = std::max(best, (bytes / 1e6) / s);
  }
  if (dst[1] != src[1]) std::abort();  // keep the copies observable
  return best;
}

Result<double> DiskSyncMbPerS(const std::string& dir, int writes) {
  const std::string path = dir + "/disk_sync_probe.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return InternalError(fmt::format("open {}: {}", path, std::strerror(errno)));
  std::string block(size_t{4} << 20, 'x');
  const auto t0 = Clock::now();
  for (int i = 0; i < writes; ++i) {
    block[0] = static_cast<char>(i);
    size_t done = 0;
    while (done < block.size()) {
      const ssize_t n = ::write(fd, block.data() + done, block.size() - done);
      if (n < 0) {
        ::close(fd);
        return InternalError(fmt::format("write {}: {}", path, std::strerror(errno)));
      }
      done += static_cast<size_t>(n);
    }
    if (::fdatasync(fd) != 0) {
      ::close(fd);
      return InternalError(fmt::format("fdatasync {}: {}", path, std::strerror(errno)));
    }
  }
  const double s = Seconds(t0, Clock::now());
  ::close(fd);
  fs::remove(path);
  return (writes * block.size() / 1e6) / s;
}

// One client session's counters (owned by its thread until joined).
struct ClientTally {
  uint64_t accepted = 0;
  uint64_t accepted_bytes = 0;
  uint64_t busy = 0;        // UNAVAILABLE answers (queue full or in-flight budget)
  uint64_t waits = 0;       // check-ins answered "wait"
  uint64_t errors = 0;      // any other non-OK status
  std::map<std::string, uint64_t> rejected;  // by reason
  std::vector<double> push_ms;  // every PushUpdate call, whatever its answer
  std::string first_error;
};

void RunClient(const std::string& target, int index, const TensorList& model, double seconds,
               std::latch* ready, std::shared_future<Clock::time_point> go, ClientTally* t) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
  client::GrpcCoordinator session(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  auto note_error = [t](const Status& s) {
    ++t->errors;
    if (t->first_error.empty()) t->first_error = s.ToString();
  };
  const std::string name = fmt::format("bench-{}", index);
  auto reg = session.Register(name, {.device = "cpu", .memory_bytes = 1 << 30, .num_samples = 100},
                              "enrollment-secret-" + name);
  if (!reg.ok()) {
    ready->count_down();
    return note_error(reg.status());
  }

  Rng rng(1000 + static_cast<uint64_t>(index));
  TensorList delta = RandomNormal(SpecOf(model), rng, 1e-3);
  api::UpdateToPush push{.local_steps = 1, .num_samples = 100, .mean_loss = 0.5,
                         .train_seconds = 0.01, .encoding = Encoding::kFp32,
                         .payload = *EncodeTensors(delta)};
  const PayloadPatcher patcher(delta.front());
  delta.clear();  // only the encoded payload is needed from here on
  ready->count_down();
  const Clock::time_point start = go.get();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
  uint64_t counter = 0;
  bool need_checkin = true;
  while (Clock::now() < stop) {
    if (need_checkin) {
      auto d = session.CheckIn(1, 0);
      if (!d.ok()) {
        note_error(d.status());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (d->kind != api::CheckInDecision::Kind::kTrain) {
        ++t->waits;
        std::this_thread::sleep_for(std::chrono::duration<double>(
            std::clamp(d->retry_after_s, 0.001, 0.05)));
        if (d->kind == api::CheckInDecision::Kind::kFinished) break;
        continue;
      }
      push.base_version = d->model_version;
      push.local_steps = d->local_steps;
      patcher.Patch(&push.payload, static_cast<float>(++counter) * 1e-9f);
      need_checkin = false;
    }
    const auto t0 = Clock::now();
    auto o = session.PushUpdate(push);
    t->push_ms.push_back(Seconds(t0, Clock::now()) * 1e3);
    if (!o.ok()) {
      if (o.status().code() == StatusCode::kUnavailable) {
        ++t->busy;  // nothing recorded; the check-in stays open: resend the same update
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        note_error(o.status());
        need_checkin = true;
      }
      continue;
    }
    need_checkin = true;
    if (o->accepted) {
      ++t->accepted;
      t->accepted_bytes += push.payload.size();
    } else {
      ++t->rejected[std::string(api::RejectReasonName(o->reason))];
    }
  }
}

struct RunResult {
  int clients = 0;
  double seconds = 0;
  double updates_per_s = 0;
  double ingest_mb_per_s = 0;
  double p50_push_ms = 0;
  double p99_push_ms = 0;
  uint64_t accepted = 0;
  uint64_t engine_accepted = 0;
  uint64_t rejected = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  uint64_t busy = 0;
  uint64_t waits = 0;
  uint64_t errors = 0;
  std::string first_error;
  uint64_t versions = 0;
  double peak_rss_mb = 0;
  bool peak_rss_reset = false;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - 1);
  return v[i];
}

Result<RunResult> RunOne(const Flags& f, int clients, const TensorList& model,
                         const std::string& dir) {
  RunResult r;
  r.clients = clients;
  r.peak_rss_reset = ResetPeakRss();
  auto store = server::store::SqliteStore::Open(
      {.dir = dir, .keep_checkpoints = server::store::kDefaultKeepCheckpoints,
       .keep_every = server::store::kDefaultKeepEvery});
  if (!store.ok()) return store.status();
  server::EngineConfig cfg;
  cfg.mode = server::RoundMode::kAsync;
  cfg.updates_per_round = f.updates_per_round;
  cfg.strategy.name = "afa_cd";
  // Every client pushes once per C/m versions or so: keep tau_max above that
  // so the benchmark measures ingest, not staleness rejections.
  cfg.max_staleness = f.max_staleness ? f.max_staleness
                                      : 4 + 2 * static_cast<uint64_t>(clients) / f.updates_per_round;
  Rng rng(42);
  auto engine = server::RoundEngine::Create(cfg, model, SystemClock::Default(), &rng, store->get());
  if (!engine.ok()) return engine.status();
  const uint64_t accepted_before = (*engine)->Stats().accepted_updates;
  const uint64_t version_before = (*engine)->version();
  server::CoordinatorService service(engine->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return InternalError("cannot listen on 127.0.0.1:0");
  const std::string target = fmt::format("127.0.0.1:{}", port);

  std::vector<ClientTally> tallies(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  // Connection set-up, registration and encoding happen before the timed
  // window, which starts when every client is ready.
  std::latch ready(clients);
  std::promise<Clock::time_point> go;
  std::shared_future<Clock::time_point> go_future = go.get_future().share();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, target, i, std::cref(model), f.seconds, &ready, go_future,
                         &tallies[static_cast<size_t>(i)]);
  }
  ready.wait();
  const auto start = Clock::now();
  go.set_value(start);
  for (auto& t : threads) t.join();
  r.seconds = Seconds(start, Clock::now());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (Status s = (*engine)->Flush(); !s.ok()) return s;
  r.engine_accepted = (*engine)->Stats().accepted_updates - accepted_before;
  r.versions = (*engine)->version() - version_before;

  std::vector<double> all_ms;
  uint64_t bytes = 0;
  for (auto& t : tallies) {
    r.accepted += t.accepted;
    bytes += t.accepted_bytes;
    r.busy += t.busy;
    r.waits += t.waits;
    r.errors += t.errors;
    if (r.first_error.empty()) r.first_error = t.first_error;
    for (const auto& [reason, n] : t.rejected) {
      r.rejected_by_reason[reason] += n;
      r.rejected += n;
    }
    all_ms.insert(all_ms.end(), t.push_ms.begin(), t.push_ms.end());
  }
  r.updates_per_s = r.accepted / r.seconds;
  r.ingest_mb_per_s = bytes / 1e6 / r.seconds;
  r.p50_push_ms = Percentile(all_ms, 0.50);
  r.p99_push_ms = Percentile(all_ms, 0.99);
  r.peak_rss_mb = PeakRssMb();
  engine->reset();
  return r;
}

std::vector<int> ParseClients(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    const int c = std::atoi(s.substr(pos, comma - pos).c_str());
    if (c <= 0) return {};
    out.push_back(c);
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  log::Options log_options;
  log_options.level = log::Level::kWarn;  // a log line per rejection would be measured too
  CLI::App app{"murmur-bench-coordinator: coordinator ingest over loopback gRPC vs memcpy and "
               "fdatasync rates"};
  app.add_option("--params", f.params, "Model parameters (fp32): the update size is 4 bytes each")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--clients", f.clients, "Comma-separated client counts C, one run each")
      ->capture_default_str();
  app.add_option("--seconds", f.seconds, "Timed seconds per C")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--updates-per-round", f.updates_per_round, "m: updates per round (async)")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--max-staleness", f.max_staleness,
                 "tau_max (0: 4 + 2*C/m, so stale rejections do not dominate)")
      ->capture_default_str();
  app.add_option("--state-dir", f.state_dir,
                 "Parent of the temporary state directories (default: $TMPDIR or /tmp)");
  app.add_option("--json", f.json, "Write the results as JSON to this file");
  app.add_flag("--breakdown", f.breakdown,
               "Also time the per-update steps alone: decode, XXH3, SQLite write, aggregation");
  app.add_option("--disk-writes", f.disk_writes, "4 MB writes (each fdatasync'ed) for the disk rate")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  AddLogOptions(app, &log_options);
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  if (Status s = log::Init(log_options); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  const std::vector<int> client_counts = ParseClients(f.clients);
  if (client_counts.empty()) {
    std::fprintf(stderr, "murmur-bench-coordinator: --clients must be positive integers "
                         "separated by commas, got '%s'\n", f.clients.c_str());
    return 2;
  }
  std::string parent = f.state_dir;
  if (parent.empty()) parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  std::string templ = parent + "/murmur-bench-coordinator-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "murmur-bench-coordinator: cannot create a directory in %s: %s\n",
                 parent.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string root = templ;
  int rc = 0;
  const TensorList model = MakeModel(f.params);
  const size_t update_bytes = EncodedSize(model, Encoding::kFp32);

  const double memcpy_mb_s = MemcpyMbPerS();
  auto disk = DiskSyncMbPerS(root, f.disk_writes);
  if (!disk.ok()) {
    std::fprintf(stderr, "murmur-bench-coordinator: disk probe: %s\n",
                 disk.status().ToString().c_str());
    fs::remove_all(root);
    return 1;
  }
  std::vector<RunResult> results;
  for (int c : client_counts) {
    const std::string dir = fmt::format("{}/c{}", root, c);
    auto r = RunOne(f, c, model, dir);
    fs::remove_all(dir);
    if (!r.ok()) {
      std::fprintf(stderr, "murmur-bench-coordinator: C=%d: %s\n", c, r.status().ToString().c_str());
      rc = 1;
      break;
    }
    if (r->engine_accepted != r->accepted) {
      std::fprintf(stderr, "murmur-bench-coordinator: C=%d: clients saw %llu accepted, the engine "
                   "counted %llu\n", c, static_cast<unsigned long long>(r->accepted),
                   static_cast<unsigned long long>(r->engine_accepted));
      rc = 1;
    }
    if (r->errors > 0) {
      std::fprintf(stderr, "murmur-bench-coordinator: C=%d: %llu failed calls, first: %s\n", c,
                   static_cast<unsigned long long>(r->errors), r->first_error.c_str());
    }
    results.push_back(*r);
  }
  std::optional<bench::Breakdown> breakdown;
  if (f.breakdown && rc == 0) {
    auto b = bench::MeasureBreakdown(model, f.updates_per_round, root + "/breakdown");
    if (!b.ok()) {
      std::fprintf(stderr, "murmur-bench-coordinator: breakdown: %s\n", b.status().ToString().c_str());
      rc = 1;
    } else {
      breakdown = *b;
    }
  }
  fs::remove_all(root);

  const double goal_mb_s = std::min(0.1 * memcpy_mb_s, 0.5 * *disk);
  std::optional<bool> goal_met;
  for (const auto& r : results) {
    if (r.clients == 64) goal_met = r.ingest_mb_per_s >= goal_mb_s && r.errors == 0;
  }

  std::printf("update %.2f MB (%lld params, fp32), m = %u, afa_cd, loopback gRPC, SQLite state in %s\n",
              update_bytes / 1e6, static_cast<long long>(f.params), f.updates_per_round,
              parent.c_str());
  std::printf("memcpy %.0f MB/s, 4 MB write+fdatasync %.0f MB/s -> goal at C=64: %.1f MB/s\n",
              memcpy_mb_s, *disk, goal_mb_s);
  std::printf("%6s %10s %10s %9s %9s %9s %7s %7s %9s %9s\n", "C", "upd/s", "MB/s", "p50 ms",
              "p99 ms", "rejected", "busy", "errors", "versions", "peakRSS");
  for (const auto& r : results) {
    std::printf("%6d %10.1f %10.1f %9.1f %9.1f %9llu %7llu %7llu %9llu %8.0fM%s\n", r.clients,
                r.updates_per_s, r.ingest_mb_per_s, r.p50_push_ms, r.p99_push_ms,
                static_cast<unsigned long long>(r.rejected), static_cast<unsigned long long>(r.busy),
                static_cast<unsigned long long>(r.errors),
                static_cast<unsigned long long>(r.versions), r.peak_rss_mb,
                r.peak_rss_reset ? "" : " (max so far)");
    for (const auto& [reason, n] : r.rejected_by_reason) {
      std::printf("         rejected %s: %llu\n", reason.c_str(), static_cast<unsigned long long>(n));
    }
  }
  if (goal_met) std::printf("goal met at C=64: %s\n", *goal_met ? "yes" : "no");
  if (breakdown) bench::PrintBreakdown(*breakdown, update_bytes);

  if (!f.json.empty()) {
    nlohmann::json j;
    j["params"] = f.params;
    j["update_bytes"] = update_bytes;
    j["updates_per_round"] = f.updates_per_round;
    j["strategy"] = "afa_cd";
    j["seconds_per_run"] = f.seconds;
    j["memcpy_mb_per_s"] = memcpy_mb_s;
    j["disk_sync_mb_per_s"] = *disk;
    j["goal_mb_per_s"] = goal_mb_s;
    j["goal_met"] = goal_met ? nlohmann::json(*goal_met) : nlohmann::json(nullptr);
    j["results"] = nlohmann::json::array();
    for (const auto& r : results) {
      j["results"].push_back({{"C", r.clients},
                              {"updates_per_s", r.updates_per_s},
                              {"ingest_mb_per_s", r.ingest_mb_per_s},
                              {"p50_push_ms", r.p50_push_ms},
                              {"p99_push_ms", r.p99_push_ms},
                              {"accepted", r.accepted},
                              {"rejected", r.rejected},
                              {"rejected_by_reason", r.rejected_by_reason},
                              {"busy", r.busy},
                              {"check_in_waits", r.waits},
                              {"errors", r.errors},
                              {"versions", r.versions},
                              {"seconds", r.seconds},
                              {"peak_rss_mb", r.peak_rss_mb},
                              // the clients run in this process: their encoded
                              // payloads alone are part of peak_rss_mb
                              {"client_payloads_mb", r.clients * update_bytes / 1e6},
                              {"peak_rss_reset_per_run", r.peak_rss_reset}});
    }
    if (breakdown) j["breakdown_ms_per_update"] = bench::BreakdownJson(*breakdown);
    std::ofstream out(f.json);
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "murmur-bench-coordinator: cannot write %s\n", f.json.c_str());
      return 1;
    }
  }
  return rc;
}
