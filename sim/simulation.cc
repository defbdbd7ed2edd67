#include "sim/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "common/token_digest.h"
#include "server/core/round_core.h"
#include "server/engine/core_driver.h"
#include "sim/client_model.h"
#include "sim/event_queue.h"
#include "sim/participation.h"

namespace murmur::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum EventKind : int { kSlot = 0, kWindow = 1, kCheckIn = 2, kArrive = 3, kFree = 4 };

struct SimClient {
  ClientModel model;
  ParticipationPattern pattern;
  uint64_t id = 0;
  std::string token;
  double window_to = -1;  // online until (exclusive)
  uint32_t window_jobs = 0;
  uint64_t jobs = 0;
  uint64_t attempts = 0;
  size_t trace_next = 0;
  bool busy = false;
  bool checkin_scheduled = false;
  bool finished = false;
};

struct Job {
  uint32_t client = 0;
  uint64_t version = 0;
  int steps = 0;
  uint64_t seed = 0;
  std::shared_ptr<const TensorList> global;
  std::optional<Result<TrainOutput>> out;
};

class Simulator {
 public:
  explicit Simulator(const SimulationInputs& in)
      : in_(in), e_(*in.experiment), run_(*in.strategy), wl_(*in.workload) {}

  Result<RunResult> Run();

 private:
  Status Setup();
  Status Handle(const Event& ev);
  void StartSlot(uint64_t slot);
  void StartWindow(uint32_t c);
  void ScheduleCheckIn(uint32_t c, double at);
  Status CheckIn(uint32_t c);
  Status Arrive(uint64_t job_id);
  void Free(uint32_t c);
  void TrainPending();
  Status Settle();
  Status FlushEvals();
  bool OnlineNow(const SimClient& c) const { return now_ < c.window_to; }

  const SimulationInputs& in_;
  const ExperimentConfig& e_;
  const StrategyRun& run_;
  Workload& wl_;
  std::unique_ptr<server::core::RoundCore> core_;
  std::unique_ptr<server::core::CoreDriver> driver_;
  EventQueue queue_;
  std::vector<SimClient> clients_;
  std::map<uint64_t, Job> jobs_;  // in flight, by job id
  uint64_t next_job_ = 1;
  double now_ = 0;
  uint64_t model_bytes_ = 0;
  bool one_job_per_window_ = false;
  std::map<uint64_t, std::pair<double, uint64_t>> staleness_;  // round -> (sum, count)
  std::vector<std::pair<size_t, std::shared_ptr<const TensorList>>> pending_evals_;
  std::map<uint64_t, size_t> client_index_;  // core id -> client
  RunResult result_;
};

Status Simulator::Setup() {
  const uint32_t n = wl_.num_clients();
  const std::vector<double>& p = *in_.p;
  if (p.size() != n) return InvalidArgumentError("p_n must be given for every client");
  server::EngineConfig cfg = run_.engine;
  for (uint32_t c = 0; c < n; ++c) cfg.known_participation_prob[c + 1] = std::max(p[c], 1e-3);
  TensorList initial = wl_.InitialModel();
  model_bytes_ = EncodedSize(initial, Encoding::kFp32);
  MURMUR_ASSIGN_OR_RETURN(core_, server::core::RoundCore::Create(cfg, std::move(initial), 0.0,
                                                                 in_.store != nullptr));
  driver_ = std::make_unique<server::core::CoreDriver>(core_.get(), in_.store);
  one_job_per_window_ = cfg.mode == server::RoundMode::kSync && in_.trace == nullptr;
  clients_.resize(n);
  for (uint32_t c = 0; c < n; ++c) {
    SimClient& sc = clients_[c];
    sc.model = ClientModel(e_.system, in_.seed, c);
    sc.pattern = ParticipationPattern(e_.participation.pattern, p[c], Mix64(in_.seed ^ 0xA5A5), c);
    sc.token = "sim-token-" + std::to_string(c);
    api::ClientCapabilities caps;
    caps.device = "sim";
    caps.num_samples = wl_.num_samples(c);
    MURMUR_ASSIGN_OR_RETURN(sc.id, core_->Register("client-" + std::to_string(c), caps,
                                                   TokenDigest(sc.token), 0.0));
    if (sc.id != c + 1) return InternalError("client ids are not assigned in order");
    client_index_[sc.id] = c;
  }
  result_.true_p = p;
  result_.participations.assign(n, 0);
  MURMUR_RETURN_IF_ERROR(Settle());
  if (in_.trace) {
    for (uint32_t c = 0; c < n; ++c) {
      const auto& ivs = in_.trace->intervals(c);
      if (!ivs.empty()) queue_.Push(ivs[0].from_s, kWindow, c);
    }
  } else {
    queue_.Push(0.0, kSlot, 0, 0);
  }
  RoundRow first;
  first.version = core_->version();
  first.sim_time_s = 0;
  result_.rows.push_back(first);
  pending_evals_.emplace_back(0, core_->model());
  return Status::Ok();
}

void Simulator::ScheduleCheckIn(uint32_t c, double at) {
  SimClient& sc = clients_[c];
  if (sc.checkin_scheduled || sc.finished || at >= sc.window_to) return;
  sc.checkin_scheduled = true;
  queue_.Push(at, kCheckIn, c);
}

void Simulator::StartSlot(uint64_t slot) {
  const double slot_s = e_.participation.slot_s;
  const double end = static_cast<double>(slot + 1) * slot_s;
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    SimClient& sc = clients_[c];
    if (!sc.pattern.Next(slot) || sc.finished) continue;
    sc.window_to = end;
    sc.window_jobs = 0;
    if (!sc.busy) ScheduleCheckIn(c, now_ + sc.model.ThinkSeconds(sc.attempts++));
  }
  queue_.Push(end, kSlot, 0, slot + 1);
}

void Simulator::StartWindow(uint32_t c) {
  SimClient& sc = clients_[c];
  const auto& ivs = in_.trace->intervals(c);
  const Interval iv = ivs[sc.trace_next++];
  sc.window_to = iv.to_s;
  sc.window_jobs = 0;
  if (sc.trace_next < ivs.size()) queue_.Push(ivs[sc.trace_next].from_s, kWindow, c);
  if (!sc.busy) ScheduleCheckIn(c, now_ + sc.model.ThinkSeconds(sc.attempts++));
}

Status Simulator::CheckIn(uint32_t c) {
  SimClient& sc = clients_[c];
  sc.checkin_scheduled = false;
  if (!OnlineNow(sc) || sc.busy || sc.finished) return Status::Ok();
  ++result_.check_ins;
  const int want = sc.model.LocalSteps(sc.jobs);
  MURMUR_ASSIGN_OR_RETURN(api::CheckInDecision d,
                          core_->CheckIn(sc.id, sc.token, static_cast<uint32_t>(want), now_));
  switch (d.kind) {
    case api::CheckInDecision::Kind::kFinished:
      sc.finished = true;
      return Status::Ok();
    case api::CheckInDecision::Kind::kWait:
      ScheduleCheckIn(c, now_ + std::max(d.retry_after_s, sc.model.ThinkSeconds(sc.attempts++)));
      return Status::Ok();
    case api::CheckInDecision::Kind::kTrain: break;
  }
  const uint64_t job_no = sc.jobs++;
  ++sc.window_jobs;
  ++result_.jobs_started;
  sc.busy = true;
  const int k = static_cast<int>(d.local_steps);
  const double download = sc.model.TransferSeconds(model_bytes_);
  const double compute = sc.model.ComputeSeconds(k);
  if (sc.model.DropsOut(job_no)) {
    ++result_.dropouts;
    sc.window_to = std::min(sc.window_to, now_ + download + compute * sc.model.DropFraction(job_no));
    queue_.Push(now_ + download + compute * sc.model.DropFraction(job_no), kFree, c);
    return Status::Ok();
  }
  if (d.model_version != core_->version()) return InternalError("check-in answered an old version");
  Job job;
  job.client = c;
  job.version = d.model_version;
  job.steps = k;
  job.seed = sc.model.JobSeed(job_no);
  job.global = core_->model();
  const uint64_t id = next_job_++;
  jobs_.emplace(id, std::move(job));
  queue_.Push(now_ + download + compute + sc.model.TransferSeconds(model_bytes_), kArrive, c, id);
  return Status::Ok();
}

void Simulator::TrainPending() {
  std::vector<Job*> todo;
  for (auto& [id, job] : jobs_) {
    if (!job.out) todo.push_back(&job);
  }
  in_.pool->ParallelFor(todo.size(), [&](size_t worker, size_t i) {
    Job& j = *todo[i];
    j.out = wl_.Train(worker, *j.global, j.client, j.steps, j.seed);
  });
  result_.trained += todo.size();
  for (Job* j : todo) j->global.reset();  // the delta is all the arrival needs
}

Status Simulator::Arrive(uint64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return InternalError("arrival of an unknown job");
  if (!it->second.out) TrainPending();
  Job job = std::move(it->second);
  jobs_.erase(it);
  SimClient& sc = clients_[job.client];
  if (!job.out->ok()) {
    return job.out->status().WithContext("local training of client " + std::to_string(job.client));
  }
  TrainOutput& out = **job.out;
  MURMUR_ASSIGN_OR_RETURN(std::string payload, EncodeTensors(out.delta));
  server::UpdateMeta meta;
  meta.client_id = sc.id;
  meta.token = sc.token;
  meta.base_version = job.version;
  meta.local_steps = static_cast<uint32_t>(job.steps);
  meta.num_samples = out.samples;
  meta.mean_loss = out.mean_loss;
  if (auto rejected = driver_->Offer(meta, std::move(payload), now_, job_id)) {
    ++result_.rejected;
  }
  MURMUR_RETURN_IF_ERROR(Settle());
  Free(job.client);
  return Status::Ok();
}

void Simulator::Free(uint32_t c) {
  SimClient& sc = clients_[c];
  sc.busy = false;
  if (one_job_per_window_ && sc.window_jobs > 0) return;
  ScheduleCheckIn(c, now_ + sc.model.ThinkSeconds(sc.attempts++));
}

Status Simulator::Settle() {
  server::core::Settled s = driver_->Settle(now_);
  for (const server::core::Ack& a : s.acks) {
    if (a.retry) continue;
    if (a.outcome.accepted) {
      ++result_.accepted;
      auto& st = staleness_[a.outcome.round_version];
      st.first += static_cast<double>(a.outcome.staleness);
      st.second += 1;
    } else {
      ++result_.rejected;
    }
  }
  for (const server::RoundSummary& r : s.rounds) {
    RoundRow row;
    row.version = r.version;
    row.sim_time_s = r.closed_at_s;
    row.accuracy = kNaN;
    row.loss = kNaN;
    row.participants = r.num_updates;
    auto st = staleness_.find(r.version);
    if (st != staleness_.end()) {
      row.mean_staleness = st->second.first / static_cast<double>(st->second.second);
      staleness_.erase(st);
    }
    for (const auto& [client, w] : r.weights) {
      row.sum_weights += w;
      auto ci = client_index_.find(client);
      if (ci == client_index_.end()) continue;
      ++result_.participations[ci->second];
      row.clients.push_back(ci->second);
    }
    std::sort(row.clients.begin(), row.clients.end());
    result_.rows.push_back(row);
    const bool last = e_.rounds != 0 && r.version >= e_.rounds + 1;
    if ((r.version - 1) % e_.eval_every == 0 || last) {
      pending_evals_.emplace_back(result_.rows.size() - 1, r.model ? r.model : core_->model());
    }
    if (in_.on_round) in_.on_round(row);
  }
  if (!core_->health().ok()) return core_->health();
  if (pending_evals_.size() >= 2 * in_.pool->size()) return FlushEvals();
  return Status::Ok();
}

Status Simulator::FlushEvals() {
  std::vector<std::optional<Result<EvalOutput>>> out(pending_evals_.size());
  in_.pool->ParallelFor(pending_evals_.size(), [&](size_t worker, size_t i) {
    out[i] = wl_.Evaluate(worker, *pending_evals_[i].second);
  });
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i]->ok()) return out[i]->status().WithContext("evaluating a global model");
    RoundRow& row = result_.rows[pending_evals_[i].first];
    row.accuracy = (*out[i])->accuracy;
    row.loss = (*out[i])->loss;
    std::map<std::string, double> metrics = {{"test_loss", row.loss}};
    if (!std::isnan(row.accuracy)) metrics["test_accuracy"] = row.accuracy;
    core_->RecordMetrics(row.version, std::move(metrics));
  }
  pending_evals_.clear();
  return Status::Ok();
}

Status Simulator::Handle(const Event& ev) {
  switch (ev.kind) {
    case kSlot: StartSlot(ev.job); return Status::Ok();
    case kWindow: StartWindow(ev.client); return Status::Ok();
    case kCheckIn: return CheckIn(ev.client);
    case kArrive: return Arrive(ev.job);
    case kFree: Free(ev.client); return Status::Ok();
  }
  return InternalError("unknown event kind");
}

Result<RunResult> Simulator::Run() {
  const auto start = std::chrono::steady_clock::now();
  result_.label = run_.label;
  result_.strategy = run_.engine.strategy.name;
  result_.seed = in_.seed;
  MURMUR_RETURN_IF_ERROR(Setup());
  const double budget = e_.sim_time_s > 0 ? e_.sim_time_s : std::numeric_limits<double>::infinity();
  while (!core_->finished()) {
    const std::optional<double> next = queue_.PeekTime();
    const std::optional<double> deadline = core_->NextDeadline();
    if (deadline && (!next || *deadline <= *next)) {
      if (*deadline > budget) break;
      now_ = std::max(now_, *deadline);
      const uint64_t before = core_->version();
      driver_->Tick(now_);
      MURMUR_RETURN_IF_ERROR(Settle());
      const std::optional<double> after = core_->NextDeadline();
      if (after && *after <= now_ && core_->version() == before) {
        return InternalError("the round deadline did not move after a tick");
      }
      continue;
    }
    if (!next || *next > budget) break;
    const Event ev = *queue_.Pop();
    now_ = std::max(now_, ev.time_s);
    MURMUR_RETURN_IF_ERROR(Handle(ev));
  }
  MURMUR_RETURN_IF_ERROR(Settle());
  // The last version is always evaluated.
  const size_t last = result_.rows.size() - 1;
  const bool queued = !pending_evals_.empty() && pending_evals_.back().first == last;
  if (std::isnan(result_.rows[last].loss) && !queued) {
    pending_evals_.emplace_back(last, core_->model());
  }
  MURMUR_RETURN_IF_ERROR(FlushEvals());
  MURMUR_RETURN_IF_ERROR(Settle());  // the metrics records
  result_.sim_end_s = now_;
  result_.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::move(result_);
}

}  // namespace

Result<RunResult> RunSimulation(const SimulationInputs& in) {
  if (!in.experiment || !in.strategy || !in.workload || !in.pool || !in.p) {
    return InvalidArgumentError("RunSimulation: experiment, strategy, workload, pool and p are required");
  }
  Simulator sim(in);
  return sim.Run();
}

}  // namespace murmur::sim
