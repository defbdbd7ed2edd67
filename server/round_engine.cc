// RoundEngine: construction, recovery and the front methods callers use.
// The worker thread's half lives in round_engine_worker.cc.
#include "server/round_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "common/checksum.h"
#include "common/logging.h"
#include "common/token_digest.h"
#include "server/update_validation.h"

namespace murmur::server {

Result<std::unique_ptr<RoundEngine>> RoundEngine::Create(EngineConfig config,
                                                         TensorList initial_model, Clock* clock,
                                                         Rng* rng, store::Store* store) {
  MURMUR_RETURN_IF_ERROR(ValidateEngineConfig(config).WithContext("engine config"));
  if (initial_model.empty()) return InvalidArgumentError("the initial model has no tensors");
  MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(initial_model, SpecOf(initial_model))
                             .WithContext("initial model"));
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          strategy::MakeStrategy(config.strategy));
  ModelSpec spec = SpecOf(initial_model);
  std::unique_ptr<RoundEngine> engine(
      new RoundEngine(std::move(config), std::move(spec), clock, rng, store, std::move(strategy)));
  if (store != nullptr) {
    MURMUR_ASSIGN_OR_RETURN(bool empty, store->IsEmpty());
    if (empty) {
      MURMUR_RETURN_IF_ERROR(store->Initialize(initial_model, engine->config_.strategy.name,
                                               clock->NowSeconds()));
    } else {
      MURMUR_ASSIGN_OR_RETURN(store::RecoveredState rec,
                              store->Recover(engine->spec_, engine->config_.max_staleness));
      MURMUR_RETURN_IF_ERROR(engine->Resume(std::move(rec)));
      initial_model.clear();
    }
  }
  MURMUR_RETURN_IF_ERROR(engine->Start(std::move(initial_model)));
  return engine;
}

RoundEngine::RoundEngine(EngineConfig config, ModelSpec spec, Clock* clock, Rng* rng,
                         store::Store* store, std::unique_ptr<strategy::Strategy> strategy)
    : config_(std::move(config)),
      spec_(std::move(spec)),
      clock_(clock),
      rng_(rng),
      store_(store),
      strategy_(std::move(strategy)),
      one_update_per_client_(config_.mode == RoundMode::kSync ||
                             StrategyNeedsOneUpdatePerClient(config_.strategy.name)) {}

Status RoundEngine::Resume(store::RecoveredState rec) {
  if (rec.strategy != config_.strategy.name) {
    return FailedPreconditionError(fmt::format(
        "{} was written with strategy '{}' but the engine is configured with '{}'",
        store_->Describe(), rec.strategy, config_.strategy.name));
  }
  if (!rec.strategy_state.empty()) {
    Result<strategy::StrategyState> state = strategy::ParseState(rec.strategy_state);
    if (!state.ok()) {
      return Status(state.status().code(),
                    fmt::format("{}: the strategy state of version {} is unusable: {}",
                                store_->Describe(), rec.version, state.status().message()));
    }
    w_state_ = std::move(*state);
  }
  w_model_ = std::move(rec.model);
  w_version_ = rec.version;
  w_next_participation_id_ = rec.next_participation_id;
  w_opened_at_s_ = rec.round_opened_at_s;
  for (store::BufferedUpdate& b : rec.buffer) {
    DecodeOptions opts{.max_bytes = config_.max_update_bytes, .expected = &spec_};
    Result<TensorList> delta = DecodeTensors(b.payload, opts);
    if (!delta.ok()) {
      return DataLossError(fmt::format(
          "{}: the buffered update of participation {} (client {}) does not decode: {}",
          store_->Describe(), b.record.id, b.record.client_id, delta.status().message()));
    }
    if (b.record.local_lr <= 0) b.record.local_lr = config_.recipe.local_lr;  // pre-v3 rows
    w_buffer_.push_back({std::move(b.record), std::move(*delta)});
  }
  const uint64_t oldest_base =
      w_version_ > config_.max_staleness ? w_version_ - config_.max_staleness : 0;
  for (const store::AcceptedKey& k : rec.recent_accepted) {
    if (k.base_version >= oldest_base && k.payload_checksum != 0) {
      w_accepted_keys_[{k.client_id, k.base_version, k.payload_checksum}] = k.round_version;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const store::ClientRecord& r : rec.clients) {
    ClientState& c = clients_[r.client_id];
    c.name = r.name;
    c.token_sha256 = r.token_sha256;
    c.caps = {r.device, r.memory_bytes, r.num_samples, r.max_local_steps};
    c.registered_at_s = r.registered_at_s;
    c.registered_version = r.registered_version;
    c.left = r.left;
    c.grace = !r.left;  // may finish the round it was training in before the restart
    ids_by_name_[r.name] = r.client_id;
    next_client_id_ = std::max(next_client_id_, r.client_id + 1);
    if (!r.left) w_members_.insert(r.client_id);
  }
  accepted_total_ = rec.accepted_total;
  rejected_total_ = rec.rejected_total;
  log::Info("engine resumed from store",
            {{"store", store_->Describe()}, {"version", w_version_}, {"buffered", w_buffer_.size()},
             {"clients", rec.clients.size()}, {"strategy", config_.strategy.name}});
  return Status();
}

Status RoundEngine::Start(TensorList initial_model) {
  started_at_s_ = clock_->NowSeconds();
  if (!initial_model.empty()) {  // a fresh engine (no store, or an empty one)
    w_model_ = std::move(initial_model);
    w_version_ = 1;
    w_opened_at_s_ = started_at_s_;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    buffered_ = w_buffer_.size();
    finished_ = config_.max_rounds != 0 && w_version_ - 1 >= config_.max_rounds;
  }
  Publish(std::make_shared<const TensorList>(w_model_), w_version_);
  worker_ = std::thread([this] { WorkerLoop(); });
  return Status();
}

RoundEngine::~RoundEngine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void RoundEngine::Publish(std::shared_ptr<const TensorList> model, uint64_t version) {
  auto snap = std::make_shared<ModelSnapshot>();
  snap->version = version;
  snap->encoding = config_.model_encoding;
  Status s = EncodeTensorsInto(*model, {.encoding = config_.model_encoding}, &snap->bytes);
  if (!s.ok()) DieWithStatus(s, "encoding the global model");  // finite by construction
  snap->checksum = Xxh3(snap->bytes);
  std::lock_guard<std::mutex> lock(mu_);
  version_ = version;
  model_ = std::move(model);
  previous_ = std::move(current_);
  current_ = std::move(snap);
}

void RoundEngine::SetRoundObserver(std::function<void(const RoundSummary&)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

uint64_t RoundEngine::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

bool RoundEngine::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

TensorList RoundEngine::GlobalModel() const { return *GlobalModelPtr(); }

std::shared_ptr<const TensorList> RoundEngine::GlobalModelPtr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return model_;
}

Status RoundEngine::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

EngineStats RoundEngine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s;
  s.strategy = config_.strategy.name;
  s.mode = std::string(RoundModeName(config_.mode));
  s.version = version_;
  for (const auto& [id, c] : clients_) s.registered_clients += c.left ? 0 : 1;
  s.active_trainers = active_trainers_;
  s.queued_updates = queued_updates_;
  s.buffered_updates = buffered_;
  s.accepted_updates = accepted_total_;
  s.rejected_updates = rejected_total_;
  s.uptime_s = clock_->NowSeconds() - started_at_s_;
  s.finished = finished_;
  return s;
}

std::string RoundEngine::NewToken() {
  // Session tokens are security material: the injected Rng makes runs
  // reproducible, so it is mixed with the OS's entropy; otherwise a restarted
  // coordinator would hand out the same tokens again.
  std::random_device os;
  const uint64_t a = rng_->NextU64() ^ ((uint64_t{os()} << 32) | os());
  const uint64_t b = rng_->NextU64() ^ ((uint64_t{os()} << 32) | os());
  return fmt::format("{:016x}{:016x}", a, b);
}

store::ClientRecord RoundEngine::ClientRecordLocked(uint64_t id, const ClientState& c) const {
  store::ClientRecord r;
  r.client_id = id;
  r.name = c.name;
  r.token_sha256 = c.token_sha256;
  r.device = c.caps.device;
  r.memory_bytes = c.caps.memory_bytes;
  r.num_samples = c.caps.num_samples;
  r.max_local_steps = c.caps.max_local_steps;
  r.registered_at_s = c.registered_at_s;
  r.registered_version = c.registered_version;
  r.left = c.left;
  r.left_at_s = c.left ? clock_->NowSeconds() : 0;
  r.last_seen_s = clock_->NowSeconds();
  return r;
}

void RoundEngine::EnqueueLocked(Item item) {
  queue_.push_back(std::move(item));
  wake_.notify_one();
}

Result<Registration> RoundEngine::Register(const std::string& client_name,
                                           const ClientCapabilities& caps) {
  if (client_name.empty() || client_name.size() > 256) {
    return InvalidArgumentError("client name must be 1..256 bytes");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!health_.ok()) return UnavailableError("coordinator stopped: " + health_.message());
  uint64_t id;
  auto it = ids_by_name_.find(client_name);
  const bool is_new = it == ids_by_name_.end();
  if (!is_new) {
    id = it->second;
  } else {
    id = next_client_id_++;
    ids_by_name_[client_name] = id;
  }
  ClientState& c = clients_[id];
  if (c.training) {
    c.training = false;  // a re-registering client abandoned its round
    --active_trainers_;
  }
  if (is_new) {
    c.registered_at_s = clock_->NowSeconds();
    c.registered_version = version_;
  }
  c.name = client_name;
  c.caps = caps;
  c.left = false;
  c.grace = false;  // a new session: whatever the old one was training is void
  const std::string token = NewToken();
  c.token_sha256 = TokenDigest(token);  // the token itself is not kept
  // The record reaches the store before any update of this client (FIFO).
  EnqueueLocked(ClientRecordLocked(id, c));
  return Registration{id, token, version_, current_->bytes.size()};
}

Status RoundEngine::AuthenticateLocked(uint64_t client_id, const std::string& token) const {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return NotFoundError(fmt::format("unknown client id {}", client_id));
  if (!TokenMatchesDigest(token, it->second.token_sha256)) {
    return PermissionDeniedError(fmt::format("bad session token for client {}", client_id));
  }
  if (it->second.left) return FailedPreconditionError(fmt::format("client {} has left", client_id));
  return Status();
}

Result<CheckInDecision> RoundEngine::CheckIn(uint64_t client_id, const std::string& token,
                                             uint32_t intended_local_steps) {
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(AuthenticateLocked(client_id, token));
  CheckInDecision d;
  d.model_version = version_;
  if (finished_) {
    d.kind = CheckInDecision::Kind::kFinished;
    d.reason = fmt::format("job finished at version {}", version_);
    return d;
  }
  if (!health_.ok()) return UnavailableError("coordinator stopped: " + health_.message());
  ClientState& c = clients_[client_id];
  c.grace = false;
  if (config_.mode == RoundMode::kSync && c.sent_from_current && c.sent_base == version_) {
    d.kind = CheckInDecision::Kind::kWait;
    d.retry_after_s = config_.wait_retry_s;
    d.reason = fmt::format(
        "already sent an update from version {} in this round; wait for version {}", version_,
        version_ + 1);
    return d;
  }
  if (!c.training && config_.max_concurrent_trainers != 0 &&
      active_trainers_ >= config_.max_concurrent_trainers) {
    d.kind = CheckInDecision::Kind::kWait;
    d.retry_after_s = config_.wait_retry_s;
    d.reason = fmt::format("concurrent trainer cap ({}) reached", config_.max_concurrent_trainers);
    return d;
  }
  uint32_t k = intended_local_steps == 0 ? config_.recipe.min_local_steps : intended_local_steps;
  k = std::clamp(k, config_.recipe.min_local_steps, config_.recipe.max_local_steps);
  if (c.caps.max_local_steps != 0) k = std::min(k, c.caps.max_local_steps);
  if (!c.training) ++active_trainers_;
  c.training = true;
  d.kind = CheckInDecision::Kind::kTrain;
  d.model_bytes = current_->bytes.size();
  d.local_steps = k;
  return d;
}

Result<SnapshotPtr> RoundEngine::Snapshot(uint64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (version == 0 || version == current_->version) return current_;
  if (previous_ && previous_->version == version) return previous_;
  return NotFoundError(fmt::format("model version {} is no longer served (current is {})", version,
                                   current_->version));
}

Status RoundEngine::Leave(uint64_t client_id, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(AuthenticateLocked(client_id, token));
  ClientState& c = clients_[client_id];
  if (c.training) {
    c.training = false;
    --active_trainers_;
  }
  c.left = true;
  c.grace = false;
  EnqueueLocked(ClientRecordLocked(client_id, c));
  return Status();
}

void RoundEngine::RecordMetrics(uint64_t version, std::map<std::string, double> metrics) {
  std::lock_guard<std::mutex> lock(mu_);
  EnqueueLocked(Metrics{version, std::move(metrics)});
}

Status RoundEngine::Flush() {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return health_;
    EnqueueLocked(Barrier{done});
  }
  return f.get();
}

void RoundEngine::RejectNow(const UpdateMeta& meta, double received_at_s, RejectReason reason,
                            std::string message, uint64_t staleness, const UpdateCallback& done,
                            bool record) {
  UpdateOutcome o;
  o.accepted = false;
  o.reason = reason;
  o.message = std::move(message);
  o.staleness = staleness;
  if (record) {
    std::lock_guard<std::mutex> lock(mu_);
    ++rejected_total_;
    if (store_ == nullptr) {
      // Nothing to record to.
    } else if (queued_records_ >= config_.max_queued_records) {
      ++dropped_records_;
      if (dropped_records_ == 1 || dropped_records_ % 10000 == 0) {
        log::Warn("history queue full: rejection records dropped",
                  {{"dropped", dropped_records_}});
      }
    } else {
      store::ParticipationRecord r;
      r.client_id = meta.client_id;
      r.base_version = meta.base_version;
      r.local_steps = meta.local_steps;
      r.num_samples = meta.num_samples;
      r.mean_loss = meta.mean_loss;
      r.staleness = staleness;
      r.accepted = false;
      r.reject_reason = static_cast<int32_t>(reason);
      r.message = o.message;
      r.received_at_s = received_at_s;
      r.local_lr = config_.recipe.local_lr;
      ++queued_records_;
      EnqueueLocked(std::move(r));
    }
  }
  done(o);
}

void RoundEngine::SubmitUpdateAsync(const UpdateMeta& meta, std::string payload,
                                    UpdateCallback done) {
  const double now = clock_->NowSeconds();
  size_t reserved_bytes = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto reject = [&](RejectReason r, std::string msg, uint64_t staleness = 0,
                      bool record = true) {
      lock.unlock();
      RejectNow(meta, now, r, std::move(msg), staleness, done, record);
    };
    if (stopping_) return reject(RejectReason::kInternal, "the coordinator is shutting down", 0, false);
    if (!health_.ok()) {
      return reject(RejectReason::kInternal, "coordinator stopped: " + health_.message(), 0, false);
    }
    Status auth = AuthenticateLocked(meta.client_id, meta.token);
    if (!auth.ok()) {
      return reject(auth.code() == StatusCode::kNotFound ? RejectReason::kUnknownClient
                                                         : RejectReason::kBadToken,
                    auth.message());
    }
    ClientState& c = clients_[meta.client_id];
    auto end_checkin = [&] {
      if (c.training) {
        c.training = false;
        --active_trainers_;
      }
      c.grace = false;
    };
    if (finished_) {
      end_checkin();
      return reject(RejectReason::kFinished, "the job has finished");
    }
    if (!c.training && !c.grace) {
      return reject(RejectReason::kDuplicate,
                    "no check-in is outstanding for this client (duplicate or unannounced "
                    "update); check in first");
    }
    if (meta.local_steps < config_.recipe.min_local_steps ||
        meta.local_steps > config_.recipe.max_local_steps) {
      end_checkin();
      return reject(RejectReason::kLocalStepsOutOfRange,
                    fmt::format("local steps K={} outside the accepted range [{}, {}]",
                                meta.local_steps, config_.recipe.min_local_steps,
                                config_.recipe.max_local_steps));
    }
    if (meta.base_version > version_) {
      end_checkin();
      return reject(RejectReason::kMalformed,
                    fmt::format("base version {} is newer than the current version {}",
                                meta.base_version, version_));
    }
    const uint64_t staleness = version_ - meta.base_version;
    if (staleness > config_.max_staleness) {
      end_checkin();
      return reject(RejectReason::kTooStale,
                    fmt::format("update is {} versions old (base {}, current {}); the limit is {}",
                                staleness, meta.base_version, version_, config_.max_staleness),
                    staleness);
    }
    if (queued_updates_ >= config_.max_queued_updates ||
        queued_bytes_ + payload.size() > config_.max_queued_bytes) {
      // Back-pressure: keep the check-in open so the client can resend.
      return reject(RejectReason::kBusy,
                    fmt::format("coordinator busy: {} updates ({} bytes) are waiting to be "
                                "recorded; retry in {:.2g} s",
                                queued_updates_, queued_bytes_, config_.busy_retry_s),
                    staleness);
    }
    end_checkin();
    reserved_bytes = payload.size();
    ++queued_updates_;
    queued_bytes_ += reserved_bytes;
  }
  // Decode and check outside the lock: nothing here touches engine state.
  PayloadCheck check =
      CheckUpdatePayload(payload, spec_, config_.max_update_bytes, config_.max_update_norm);
  if (check.reason != RejectReason::kNone) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --queued_updates_;
      queued_bytes_ -= reserved_bytes;
    }
    RejectNow(meta, now, check.reason, std::move(check.message), 0, done, true);
    return;
  }
  QueuedUpdate q;
  q.meta = meta;
  q.meta.token.clear();
  q.checksum = Xxh3(payload);
  q.reserved_bytes = reserved_bytes;  // released by the worker when it takes the item
  if (store_ != nullptr) q.payload = std::move(payload);
  q.delta = std::move(check.delta);
  q.received_at_s = now;
  q.done = std::move(done);
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.mode == RoundMode::kSync) {
    ClientState& c = clients_[meta.client_id];
    c.sent_from_current = true;
    c.sent_base = meta.base_version;
  }
  EnqueueLocked(std::move(q));
}

UpdateOutcome RoundEngine::SubmitUpdate(const UpdateMeta& meta, std::string_view payload) {
  auto promise = std::make_shared<std::promise<UpdateOutcome>>();
  std::future<UpdateOutcome> f = promise->get_future();
  SubmitUpdateAsync(meta, std::string(payload),
                    [promise](const UpdateOutcome& o) { promise->set_value(o); });
  return f.get();
}

}  // namespace murmur::server
