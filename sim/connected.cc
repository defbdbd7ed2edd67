#include "sim/connected.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include "common/api/coordinator_api.h"
#include "common/codec/tensor_codec.h"
#include "common/rng.h"
#include "sim/client_model.h"
#include "sim/participation.h"

namespace murmur::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct VirtualClient {
  uint32_t index = 0;
  std::unique_ptr<api::CoordinatorApi> session;
  ParticipationPattern pattern;
  ClientModel model;
  uint64_t next_slot = 0;
  bool online = false;
  bool done_this_slot = false;
  uint64_t jobs = 0;
  uint64_t have_version = 0;
};

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// Shared between the worker threads.
struct Shared {
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status error;  // the first hard error, under mu
  ConnectedStats stats;  // summed under mu
  const ConnectedOptions* options = nullptr;

  void Fail(const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.ok()) error = s;
    stop = true;
  }
  void SawVersion(uint64_t v) {
    std::lock_guard<std::mutex> lock(mu);
    if (stats.first_version == 0 || v < stats.first_version) stats.first_version = v;
    if (v > stats.last_version) {
      stats.last_version = v;
      if (options->on_version) options->on_version(v);
    }
  }
};

class Worker {
 public:
  Worker(size_t id, const ExperimentConfig& e, Workload& w, const ModelSpec& spec,
         const std::vector<double>& p, const ConnectedOptions& o, Shared& shared)
      : id_(id), w_(w), spec_(spec), o_(o), shared_(shared) {
    const uint64_t pattern_seed = Mix64(o.seed ^ 0xA5A5);
    for (uint32_t c = o.first + static_cast<uint32_t>(id); c < o.last;
         c += static_cast<uint32_t>(o.workers)) {
      VirtualClient vc;
      vc.index = c;
      vc.pattern = ParticipationPattern(e.participation.pattern, p[c], pattern_seed, c);
      vc.model = ClientModel(e.system, o.seed, c);
      clients_.push_back(std::move(vc));
    }
  }

  void Run(SteadyClock::time_point start) {
    while (!shared_.stop) {
      const double now = std::chrono::duration<double>(SteadyClock::now() - start).count();
      if (o_.max_wall_s > 0 && now >= o_.max_wall_s) break;
      const auto slot = static_cast<uint64_t>(now / o_.slot_s);
      bool worked = false;
      for (VirtualClient& vc : clients_) {
        if (shared_.stop) break;
        while (vc.next_slot <= slot) {
          vc.online = vc.pattern.Next(vc.next_slot++);
          vc.done_this_slot = false;
        }
        if (!vc.online || vc.done_this_slot) continue;
        Status s = OneJob(vc, &worked);
        if (!s.ok()) {
          if (Transient(s)) {
            ++stats_.transient_errors;
            continue;
          }
          shared_.Fail(s.WithContext("client " + std::to_string(vc.index)));
          break;
        }
      }
      if (!worked) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (VirtualClient& vc : clients_) {
      if (vc.session) (void)vc.session->Leave("murmur-sim connected run over");
    }
    std::lock_guard<std::mutex> lock(shared_.mu);
    ConnectedStats& t = shared_.stats;
    t.registered += stats_.registered;
    t.check_ins += stats_.check_ins;
    t.waits += stats_.waits;
    t.jobs += stats_.jobs;
    t.accepted += stats_.accepted;
    t.rejected += stats_.rejected;
    t.transient_errors += stats_.transient_errors;
  }

 private:
  Status Register(VirtualClient& vc) {
    MURMUR_ASSIGN_OR_RETURN(vc.session, client::ConnectCoordinator(o_.connect));
    const std::string name = o_.name_prefix + std::to_string(vc.index);
    MURMUR_ASSIGN_OR_RETURN(
        api::Registration reg,
        vc.session->Register(name, {.device = "cpu", .num_samples = w_.num_samples(vc.index)},
                             "murmur-sim-enrollment-secret-" + std::to_string(vc.index)));
    (void)reg;
    ++stats_.registered;
    return Status::Ok();
  }

  Status OneJob(VirtualClient& vc, bool* worked) {
    if (!vc.session) MURMUR_RETURN_IF_ERROR(Register(vc));
    const int k = vc.model.LocalSteps(vc.jobs);
    ++stats_.check_ins;
    Result<api::CheckInDecision> d = vc.session->CheckIn(static_cast<uint32_t>(k), vc.have_version);
    if (!d.ok() && d.status().code() == StatusCode::kPermissionDenied) {
      vc.session.reset();  // another session took this name over: register again next time
      return Status::Ok();
    }
    MURMUR_RETURN_IF_ERROR(d.status());
    if (d->kind == api::CheckInDecision::Kind::kFinished) {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.stats.finished = true;
      shared_.stop = true;
      return Status::Ok();
    }
    if (d->kind == api::CheckInDecision::Kind::kWait) {
      ++stats_.waits;
      return Status::Ok();
    }
    Result<api::PulledModel> pulled = vc.session->PullModel(d->model_version);
    if (!pulled.ok() && pulled.status().code() == StatusCode::kNotFound) return Status::Ok();
    MURMUR_RETURN_IF_ERROR(pulled.status());
    shared_.SawVersion(pulled->version);
    vc.have_version = pulled->version;
    DecodeOptions dopt{.expected = &spec_};
    MURMUR_ASSIGN_OR_RETURN(TensorList global, DecodeTensors(pulled->bytes, dopt));
    const auto t0 = SteadyClock::now();
    MURMUR_ASSIGN_OR_RETURN(TrainOutput out, w_.Train(id_, global, vc.index,
                                                      static_cast<int>(d->local_steps),
                                                      vc.model.JobSeed(vc.jobs)));
    api::UpdateToPush push;
    push.base_version = pulled->version;
    push.local_steps = d->local_steps;
    push.num_samples = out.samples;
    push.mean_loss = out.mean_loss;
    push.train_seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    push.encoding = d->recipe.update_encoding;
    MURMUR_ASSIGN_OR_RETURN(push.payload, EncodeTensors(out.delta, {.encoding = push.encoding}));
    ++vc.jobs;
    ++stats_.jobs;
    vc.done_this_slot = true;
    *worked = true;
    // A busy coordinator (UNAVAILABLE) recorded nothing: retry once after a pause.
    Result<api::UpdateOutcome> r = vc.session->PushUpdate(push);
    if (!r.ok() && Transient(r.status())) {
      ++stats_.transient_errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      r = vc.session->PushUpdate(push);
    }
    MURMUR_RETURN_IF_ERROR(r.status());
    if (r->accepted) {
      ++stats_.accepted;
    } else {
      ++stats_.rejected;
    }
    return Status::Ok();
  }

  size_t id_;
  Workload& w_;
  const ModelSpec& spec_;
  const ConnectedOptions& o_;
  Shared& shared_;
  std::vector<VirtualClient> clients_;
  ConnectedStats stats_;
};

}  // namespace

Status ParseClientRange(const std::string& text, uint32_t n, uint32_t* first, uint32_t* last) {
  if (text.empty()) {
    *first = 0;
    *last = n;
    return Status::Ok();
  }
  const size_t colon = text.find(':');
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("client range '" + text + "': " + why +
                                " (want A:B, clients A..B-1 of the experiment's " +
                                std::to_string(n) + ")");
  };
  if (colon == std::string::npos) return bad("no ':'");
  try {
    size_t used = 0;
    const unsigned long a = std::stoul(text.substr(0, colon), &used);
    if (used != colon) return bad("A is not a number");
    const std::string rest = text.substr(colon + 1);
    const unsigned long b = std::stoul(rest, &used);
    if (used != rest.size()) return bad("B is not a number");
    if (a >= b) return bad("A must be below B");
    if (b > n) return bad("B is past the last client");
    *first = static_cast<uint32_t>(a);
    *last = static_cast<uint32_t>(b);
  } catch (const std::exception&) {
    return bad("not numbers");
  }
  return Status::Ok();
}

Result<ConnectedStats> RunConnected(const ExperimentConfig& e, Workload& workload,
                                    const std::vector<double>& p, const ConnectedOptions& o) {
  if (o.first >= o.last || o.last > workload.num_clients() || p.size() < o.last) {
    return InvalidArgumentError("client range [" + std::to_string(o.first) + ", " +
                                std::to_string(o.last) + ") does not fit the " +
                                std::to_string(workload.num_clients()) + " clients");
  }
  if (o.workers == 0) return InvalidArgumentError("connected mode needs at least one worker");
  if (!(o.slot_s > 0)) return InvalidArgumentError("slot_s must be > 0");
  const ModelSpec spec = SpecOf(workload.InitialModel());
  Shared shared;
  shared.options = &o;
  const size_t workers = std::min<size_t>(o.workers, o.last - o.first);
  ConnectedOptions opt = o;
  opt.workers = workers;
  std::vector<std::unique_ptr<Worker>> ws;
  for (size_t i = 0; i < workers; ++i) {
    ws.push_back(std::make_unique<Worker>(i, e, workload, spec, p, opt, shared));
  }
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (auto& w : ws) threads.emplace_back([&w, start] { w->Run(start); });
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(shared.mu);
  if (!shared.error.ok()) return shared.error;
  ConnectedStats s = shared.stats;
  s.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return s;
}

}  // namespace murmur::sim
