// RoundEngine: construction, recovery and the front methods callers use.
// The worker thread's half lives in round_engine_worker.cc; every rule lives
// in RoundCore.
#include "server/engine/round_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "common/checksum.h"
#include "common/logging.h"
#include "common/token_digest.h"
#include "server/job_settings.h"
#include "server/update_validation.h"

namespace murmur::server {

Result<std::unique_ptr<RoundEngine>> RoundEngine::Create(EngineConfig config,
                                                         TensorList initial_model, Clock* clock,
                                                         Rng* rng, store::Store* store) {
  MURMUR_RETURN_IF_ERROR(ValidateEngineConfig(config).WithContext("engine config"));
  if (initial_model.empty()) return InvalidArgumentError("the initial model has no tensors");
  MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(initial_model, SpecOf(initial_model))
                             .WithContext("initial model"));
  const double now = clock->NowSeconds();
  std::unique_ptr<core::RoundCore> core;
  if (store != nullptr) {
    const JobSettingsMap settings = JobSettingsOf(config);
    MURMUR_ASSIGN_OR_RETURN(bool empty, store->IsEmpty());
    if (empty) {
      MURMUR_ASSIGN_OR_RETURN(core, core::RoundCore::Create(config, initial_model, now, true));
      MURMUR_RETURN_IF_ERROR(
          store->Initialize(initial_model, config.strategy.name, settings, now));
    } else {
      const ModelSpec spec = SpecOf(initial_model);
      MURMUR_ASSIGN_OR_RETURN(store::RecoveredState rec,
                              store->Recover(spec, AcceptedKeyHorizon(config)));
      const JobSettingsMap saved = rec.settings;
      const size_t clients = rec.clients.size();
      // The strategy itself can never change (its state is its own): Resume says so first.
      MURMUR_ASSIGN_OR_RETURN(core, core::RoundCore::Resume(config, spec, std::move(rec), now,
                                                            store->Describe()));
      if (saved.empty()) {
        // A store written before settings were saved: start saving them.
        MURMUR_RETURN_IF_ERROR(store->ReplaceSettings(settings));
      } else if (Status same = CompareJobSettings(saved, settings); !same.ok()) {
        if (!config.allow_settings_change) {
          return Status(same.code(), store->Describe() + ": " + same.message());
        }
        log::Warn("job settings changed on restart (allowed by --allow-settings-change)",
                  {{"store", store->Describe()}, {"changes", same.message()}});
        MURMUR_RETURN_IF_ERROR(store->ReplaceSettings(settings));
      }
      log::Info("engine resumed from store",
                {{"store", store->Describe()}, {"version", core->version()},
                 {"buffered", core->Counters().buffered_updates}, {"clients", clients},
                 {"strategy", config.strategy.name}});
    }
  } else {
    MURMUR_ASSIGN_OR_RETURN(core,
                            core::RoundCore::Create(config, std::move(initial_model), now, false));
  }
  std::unique_ptr<RoundEngine> engine(new RoundEngine(clock, rng, store, std::move(core)));
  engine->Start();
  return engine;
}

RoundEngine::RoundEngine(Clock* clock, Rng* rng, store::Store* store,
                         std::unique_ptr<core::RoundCore> core)
    : clock_(clock),
      rng_(rng),
      store_(store),
      core_(std::move(core)),
      validation_pool_(std::make_unique<ValidationPool>(core_->config().validation_threads,
                                                        core_->config().max_queued_updates)) {}

void RoundEngine::Start() {
  started_at_s_ = clock_->NowSeconds();
  for (const TensorSpec& t : core_->spec()) {
    decoded_bytes_ += static_cast<size_t>(NumElements(t.shape)) * sizeof(float);
  }
  current_ = Encode(*core_->model(), core_->version());
  worker_ = std::thread([this] { WorkerLoop(); });
}

RoundEngine::~RoundEngine() {
  // Updates still being validated reach the queue (or are answered) first.
  validation_pool_->Shutdown();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (deadline_timer_ != 0) clock_->Cancel(deadline_timer_);
}

SnapshotPtr RoundEngine::Encode(const TensorList& model, uint64_t version) const {
  auto snap = std::make_shared<ModelSnapshot>();
  snap->version = version;
  snap->encoding = core_->config().model_encoding;
  Status s = EncodeTensorsInto(model, {.encoding = snap->encoding}, &snap->bytes);
  if (!s.ok()) DieWithStatus(s, "encoding the global model");  // finite by construction
  snap->checksum = Xxh3(snap->bytes);
  return snap;
}

const EngineConfig& RoundEngine::config() const { return core_->config(); }
const ModelSpec& RoundEngine::model_spec() const { return core_->spec(); }

TrainingRecipe RoundEngine::recipe() const {
  TrainingRecipe r = core_->config().recipe;
  r.model_spec_hash = api::ModelSpecHash(core_->spec());
  return r;
}

void RoundEngine::SetRoundObserver(std::function<void(const RoundSummary&)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

uint64_t RoundEngine::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->version();
}

bool RoundEngine::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->finished();
}

TensorList RoundEngine::GlobalModel() const { return *GlobalModelPtr(); }

std::shared_ptr<const TensorList> RoundEngine::GlobalModelPtr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->model();
}

Status RoundEngine::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->health();
}

EngineStats RoundEngine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  const core::CoreCounters c = core_->Counters();
  EngineStats s;
  s.strategy = core_->config().strategy.name;
  s.mode = std::string(RoundModeName(core_->config().mode));
  s.version = core_->version();
  s.registered_clients = c.registered_clients;
  s.active_trainers = c.active_trainers;
  s.queued_updates = queued_updates_;
  s.buffered_updates = c.buffered_updates;
  s.accepted_updates = c.accepted_updates;
  s.rejected_updates = c.rejected_updates;
  s.unauthenticated_attempts = c.unauthenticated_attempts;
  s.uptime_s = clock_->NowSeconds() - started_at_s_;
  s.finished = core_->finished();
  return s;
}

std::string RoundEngine::NewTokenLocked() {
  // Session tokens are security material: the injected Rng makes runs
  // reproducible, so it is mixed with the OS's entropy; otherwise a restarted
  // coordinator would hand out the same tokens again.
  std::random_device os;
  const uint64_t a = rng_->NextU64() ^ ((uint64_t{os()} << 32) | os());
  const uint64_t b = rng_->NextU64() ^ ((uint64_t{os()} << 32) | os());
  return fmt::format("{:016x}{:016x}", a, b);
}

void RoundEngine::WakeWorkerLocked() {
  wake_pending_ = true;
  wake_.notify_one();
}

Result<Registration> RoundEngine::Register(const std::string& client_name,
                                           const ClientCapabilities& caps,
                                           const std::string& credential) {
  MURMUR_RETURN_IF_ERROR(api::CheckEncodingSupported(caps, core_->config().recipe.update_encoding)
                             .WithContext(fmt::format("client '{}'", client_name)));
  const double now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  const std::string token = NewTokenLocked();
  MURMUR_ASSIGN_OR_RETURN(
      uint64_t id, core_->Register(client_name, caps, TokenDigest(token), now, credential));
  WakeWorkerLocked();  // the client record goes to the store
  return Registration{id, token, core_->version(), current_->bytes.size(), core_->spec()};
}

Result<CheckInDecision> RoundEngine::CheckIn(uint64_t client_id, const std::string& token,
                                             uint32_t intended_local_steps) {
  const double now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_ASSIGN_OR_RETURN(CheckInDecision d,
                          core_->CheckIn(client_id, token, intended_local_steps, now));
  if (d.kind == CheckInDecision::Kind::kTrain) d.model_bytes = current_->bytes.size();
  return d;
}

Result<SnapshotPtr> RoundEngine::Snapshot(uint64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (version == 0 || version == current_->version) return current_;
  if (previous_ && previous_->version == version) return previous_;
  return NotFoundError(fmt::format("model version {} is no longer served (current is {})", version,
                                   current_->version));
}

Status RoundEngine::Authenticate(uint64_t client_id, const std::string& token) const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->Authenticate(client_id, token);
}

Status RoundEngine::Leave(uint64_t client_id, const std::string& token) {
  const double now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(core_->Leave(client_id, token, now));
  WakeWorkerLocked();
  return Status();
}

void RoundEngine::RecordMetrics(uint64_t version, std::map<std::string, double> metrics) {
  std::lock_guard<std::mutex> lock(mu_);
  core_->RecordMetrics(version, std::move(metrics));
  WakeWorkerLocked();
}

Status RoundEngine::Flush() {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return core_->health();
    queue_.push_back(Barrier{done});
    wake_.notify_one();
  }
  return f.get();
}

void RoundEngine::SubmitUpdateAsync(const UpdateMeta& meta, std::string payload,
                                    UpdateCallback done) {
  const double now = clock_->NowSeconds();
  const EngineConfig& cfg = core_->config();
  // A declared checksum (the service passes the header's) is verified on the
  // validation pool; without one the caller's thread hashes the payload (the
  // in-process callers), since admission needs it to recognise a retry.
  const bool declared = meta.payload_checksum != 0;
  const uint64_t checksum = declared ? meta.payload_checksum : Xxh3(payload);
  // A queued update holds its payload and its decoded delta.
  const size_t queued_size = payload.size() + decoded_bytes_;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      UpdateOutcome o;
      o.reason = RejectReason::kInternal;
      o.message = "the coordinator is shutting down";
      done(o);
      return;
    }
    std::optional<std::string> busy;
    if (queued_updates_ >= cfg.max_queued_updates ||
        queued_bytes_ + queued_size > cfg.max_queued_bytes) {
      busy = fmt::format("coordinator busy: {} updates ({} bytes) are waiting to be recorded; "
                         "retry in {:.2g} s",
                         queued_updates_, queued_bytes_, cfg.busy_retry_s);
    }
    if (std::optional<UpdateOutcome> rejected = core_->Admit(meta, checksum, busy, now)) {
      if (rejected->reason == RejectReason::kUnknownClient ||
          rejected->reason == RejectReason::kBadToken) {
        const uint64_t n = core_->Counters().unauthenticated_attempts;
        if (n == 1 || n % 1000 == 0) {
          log::Warn("unauthenticated update attempts (counted, not recorded)",
                    {{"total", n}, {"client_id", meta.client_id}, {"why", rejected->message}});
        }
      }
      WakeWorkerLocked();  // its record goes to the store
      lock.unlock();
      done(*rejected);
      return;
    }
    // Admitted: room in the queue is reserved now, so the pool's queue (one
    // job per reservation) stays within max_queued_updates.
    ++queued_updates_;
    queued_bytes_ += queued_size;
  }
  auto job = std::make_shared<Validation>(
      Validation{meta, std::move(payload), checksum, declared, queued_size, now, std::move(done)});
  if (!validation_pool_->Post([this, job] { Validate(*job); })) {
    // Only when shutting down: the admitted update is rejected, recorded.
    PayloadCheck refused;
    refused.reason = RejectReason::kInternal;
    refused.message = "the coordinator is shutting down";
    Finish(*job, std::move(refused));
  }
}

void RoundEngine::Validate(Validation& v) {
  PayloadCheck check;
  if (v.declared) {
    const uint64_t actual = Xxh3(v.payload);
    if (actual != v.checksum) {
      check.reason = RejectReason::kMalformed;
      check.message = fmt::format(
          "payload checksum mismatch: the update declares XXH3-64 {:016x}, its {} bytes hash "
          "to {:016x}",
          v.checksum, v.payload.size(), actual);
    }
  }
  if (check.reason == RejectReason::kNone) {
    const EngineConfig& cfg = core_->config();
    check = CheckUpdatePayload(v.payload, core_->spec(), cfg.max_update_bytes,
                               cfg.max_update_norm);
  }
  Finish(v, std::move(check));
}

void RoundEngine::Finish(Validation& v, PayloadCheck check) {
  std::unique_lock<std::mutex> lock(mu_);
  if (std::optional<UpdateOutcome> rejected = core_->OnPayloadChecked(v.meta, check, v.now_s)) {
    --queued_updates_;
    queued_bytes_ -= v.reserved_bytes;
    WakeWorkerLocked();
    lock.unlock();
    v.done(*rejected);
    return;
  }
  QueuedUpdate q;
  q.update = core::MakeValidatedUpdate(v.meta, std::move(v.payload), v.checksum,
                                      std::move(check.delta), v.now_s, next_ticket_++,
                                      store_ != nullptr);
  q.reserved_bytes = v.reserved_bytes;  // released by the worker when it takes the item
  waiting_.emplace(q.update.ticket, std::move(v.done));
  queue_.push_back(std::move(q));
  wake_.notify_one();
}

UpdateOutcome RoundEngine::SubmitUpdate(const UpdateMeta& meta, std::string_view payload) {
  auto promise = std::make_shared<std::promise<UpdateOutcome>>();
  std::future<UpdateOutcome> f = promise->get_future();
  SubmitUpdateAsync(meta, std::string(payload),
                    [promise](const UpdateOutcome& o) { promise->set_value(o); });
  return f.get();
}

}  // namespace murmur::server
