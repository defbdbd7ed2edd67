#include "server/core/round_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/token_digest.h"
#include "server/strategy/strategy_factory.h"

namespace murmur::server::core {
namespace {

double DiffNorm(const TensorList& a, const TensorList& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].data.size(); ++j) {
      const double d = static_cast<double>(a[i].data[j]) - b[i].data[j];
      sum += d * d;
    }
  }
  return std::sqrt(sum);
}

UpdateOutcome Rejection(RejectReason reason, std::string message, uint64_t staleness) {
  UpdateOutcome o;
  o.accepted = false;
  o.reason = reason;
  o.message = std::move(message);
  o.staleness = staleness;
  return o;
}

// FedBuff divides by its buffer size K; unless set, K is the round's m.
EngineConfig WithDefaults(EngineConfig c) {
  if (c.strategy.fedbuff_buffer_size == 0) c.strategy.fedbuff_buffer_size = c.updates_per_round;
  return c;
}

}  // namespace

ValidatedUpdate MakeValidatedUpdate(const UpdateMeta& meta, std::string payload,
                                    uint64_t checksum, TensorList delta, double received_at_s,
                                    Ticket ticket, bool keep_payload) {
  ValidatedUpdate u;
  u.meta = meta;
  u.meta.token.clear();
  u.checksum = checksum;
  if (keep_payload) u.payload = std::move(payload);
  u.delta = std::move(delta);
  u.received_at_s = received_at_s;
  u.ticket = ticket;
  return u;
}

Result<strategy::Step> RoundJob::Run() const {
  strategy::RoundInput in;
  in.round = round;
  in.global = global.get();
  in.updates = updates;
  in.all_clients = all_clients;
  if (!known_p.empty()) in.known_participation_prob = &known_p;
  // Every buffered delta was decoded with non-finite values refused
  // (CheckUpdatePayload, or DecodeTensors on Resume).
  in.deltas_checked_finite = true;
  return strategy->Aggregate(in, state);
}

RoundCore::RoundCore(EngineConfig config, ModelSpec spec,
                     std::unique_ptr<strategy::Strategy> strategy, bool record_history)
    : config_(std::move(config)),
      spec_(std::move(spec)),
      strategy_(std::move(strategy)),
      one_update_per_client_(config_.mode == RoundMode::kSync ||
                             strategy_->needs().one_update_per_client),
      record_history_(record_history) {}

Result<std::unique_ptr<RoundCore>> RoundCore::Create(EngineConfig config, TensorList initial_model,
                                                     double now_s, bool record_history) {
  config = WithDefaults(std::move(config));
  MURMUR_RETURN_IF_ERROR(ValidateEngineConfig(config).WithContext("engine config"));
  if (initial_model.empty()) return InvalidArgumentError("the initial model has no tensors");
  ModelSpec spec = SpecOf(initial_model);
  MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(initial_model, spec).WithContext("initial model"));
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          strategy::MakeStrategy(config.strategy));
  std::unique_ptr<RoundCore> core(
      new RoundCore(std::move(config), std::move(spec), std::move(strategy), record_history));
  core->model_ = std::make_shared<const TensorList>(std::move(initial_model));
  core->version_ = 1;
  core->opened_at_s_ = now_s;
  return core;
}

Result<std::unique_ptr<RoundCore>> RoundCore::Resume(EngineConfig config, ModelSpec spec,
                                                     store::RecoveredState rec, double now_s,
                                                     const std::string& where) {
  config = WithDefaults(std::move(config));
  MURMUR_RETURN_IF_ERROR(ValidateEngineConfig(config).WithContext("engine config"));
  if (rec.strategy != config.strategy.name) {
    return FailedPreconditionError(fmt::format(
        "{} was written with strategy '{}' but the engine is configured with '{}'", where,
        rec.strategy, config.strategy.name));
  }
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          strategy::MakeStrategy(config.strategy));
  std::unique_ptr<RoundCore> core(
      new RoundCore(std::move(config), std::move(spec), std::move(strategy), true));
  const EngineConfig& cfg = core->config_;
  if (!rec.strategy_state.empty()) {
    Result<strategy::StrategyState> state = strategy::ParseState(rec.strategy_state);
    if (!state.ok()) {
      return Status(state.status().code(),
                    fmt::format("{}: the strategy state of version {} is unusable: {}", where,
                                rec.version, state.status().message()));
    }
    core->state_ = std::move(*state);
  }
  core->model_ = std::make_shared<const TensorList>(std::move(rec.model));
  core->version_ = rec.version;
  core->next_participation_id_ = rec.next_participation_id;
  core->opened_at_s_ = rec.round_opened_at_s > 0 ? rec.round_opened_at_s : now_s;
  for (store::BufferedUpdate& b : rec.buffer) {
    DecodeOptions opts{.max_bytes = cfg.max_update_bytes, .expected = &core->spec_};
    Result<TensorList> delta = DecodeTensors(b.payload, opts);
    if (!delta.ok()) {
      return DataLossError(fmt::format(
          "{}: the buffered update of participation {} (client {}) does not decode: {}", where,
          b.record.id, b.record.client_id, delta.status().message()));
    }
    if (b.record.local_lr <= 0) b.record.local_lr = cfg.recipe.local_lr;  // pre-v3 rows
    core->buffer_.push_back({std::move(b.record), std::move(*delta)});
  }
  const uint64_t horizon = AcceptedKeyHorizon(cfg);
  const uint64_t oldest_base = core->version_ > horizon ? core->version_ - horizon : 0;
  for (const store::AcceptedKey& k : rec.recent_accepted) {
    if (k.base_version >= oldest_base && k.payload_checksum != 0) {
      core->accepted_keys_[{k.client_id, k.base_version, k.payload_checksum}] = k.round_version;
    }
  }
  for (const store::ClientRecord& r : rec.clients) {
    ClientState& c = core->clients_[r.client_id];
    c.name = r.name;
    c.token_sha256 = r.token_sha256;
    c.credential_sha256 = r.credential_sha256;
    c.caps = {r.device, r.memory_bytes, r.num_samples, r.max_local_steps};
    c.registered_at_s = r.registered_at_s;
    c.registered_version = r.registered_version;
    c.left = r.left;
    c.grace = !r.left;  // may finish the round it was training in before the restart
    core->ids_by_name_[r.name] = r.client_id;
    core->next_client_id_ = std::max(core->next_client_id_, r.client_id + 1);
    if (!r.left) core->members_.insert(r.client_id);
  }
  // Sync mode: a client with an update in the open round has sent from this version.
  for (const Buffered& b : core->buffer_) {
    auto it = core->clients_.find(b.record.client_id);
    if (it == core->clients_.end()) continue;
    it->second.sent_from_current = true;
    it->second.sent_base = b.record.base_version;
  }
  core->accepted_total_ = rec.accepted_total;
  core->rejected_total_ = rec.rejected_total;
  return core;
}

bool RoundCore::AtMaxRounds() const {
  return config_.max_rounds != 0 && version_ - 1 >= config_.max_rounds;
}

bool RoundCore::finished() const { return AtMaxRounds(); }

CoreCounters RoundCore::Counters() const {
  CoreCounters c;
  c.registered_clients = members_.size();
  c.active_trainers = active_trainers_;
  c.buffered_updates = buffer_.size();
  c.accepted_updates = accepted_total_;
  c.rejected_updates = rejected_total_;
  c.dropped_records = dropped_records_;
  c.unauthenticated_attempts = unauthenticated_total_;
  return c;
}

std::optional<double> RoundCore::NextDeadline() const {
  if (!(config_.round_deadline_s > 0) || !failed_.ok() || AtMaxRounds()) return std::nullopt;
  return opened_at_s_ + config_.round_deadline_s;
}

store::ClientRecord RoundCore::RecordOf(uint64_t id, const ClientState& c, double now_s) const {
  store::ClientRecord r;
  r.client_id = id;
  r.name = c.name;
  r.token_sha256 = c.token_sha256;
  r.credential_sha256 = c.credential_sha256;
  r.device = c.caps.device;
  r.memory_bytes = c.caps.memory_bytes;
  r.num_samples = c.caps.num_samples;
  r.max_local_steps = c.caps.max_local_steps;
  r.registered_at_s = c.registered_at_s;
  r.registered_version = c.registered_version;
  r.left = c.left;
  r.left_at_s = c.left ? now_s : 0;
  r.last_seen_s = now_s;
  return r;
}

void RoundCore::EndCheckIn(ClientState& c) {
  if (c.training) {
    c.training = false;
    --active_trainers_;
  }
  c.grace = false;
}

// ---- front inputs ----

Result<uint64_t> RoundCore::Register(const std::string& client_name,
                                     const ClientCapabilities& caps,
                                     const std::string& token_sha256, double now_s,
                                     const std::string& credential) {
  if (client_name.empty() || client_name.size() > 256) {
    return InvalidArgumentError("client name must be 1..256 bytes");
  }
  if (credential.size() > 4096) {
    return InvalidArgumentError("credential must be at most 4096 bytes");
  }
  if (!failed_.ok()) return UnavailableError("coordinator stopped: " + failed_.message());
  // Known p by name: a client without one could only stop the engine at its
  // first aggregation. (Keyed by id, the simulator supplies them itself.)
  if (strategy_->name() == "fedavg_known_p" && !config_.known_p_by_name.empty() &&
      !config_.known_p_by_name.contains(client_name)) {
    return FailedPreconditionError(fmt::format(
        "fedavg_known_p needs the participation probability of every client, and none is "
        "configured for '{}' (add it to the known-p file)",
        client_name));
  }
  auto it = ids_by_name_.find(client_name);
  const bool is_new = it == ids_by_name_.end();
  // Identity: every check before anything changes, so a refused takeover
  // leaves the bound client's session as it was.
  const std::string* bound = is_new ? nullptr : &clients_.at(it->second).credential_sha256;
  if (bound != nullptr && !bound->empty()) {
    if (!TokenMatchesDigest(credential, *bound)) {
      return PermissionDeniedError(
          fmt::format("client name '{}' is bound to another credential", client_name));
    }
  } else if (credential.empty() && config_.require_credential) {
    return InvalidArgumentError(fmt::format(
        "client '{}' registered without a credential: send an enrollment secret (at least 16 "
        "bytes) or connect with an mTLS client certificate",
        client_name));
  }
  const uint64_t id = is_new ? next_client_id_++ : it->second;
  if (is_new) ids_by_name_[client_name] = id;
  ClientState& c = clients_[id];
  EndCheckIn(c);  // a re-registering client abandoned its round; a new session voids grace
  if (is_new) {
    c.registered_at_s = now_s;
    c.registered_version = version_;
  }
  c.name = client_name;
  c.caps = caps;
  c.left = false;
  c.token_sha256 = token_sha256;
  if (c.credential_sha256.empty() && !credential.empty()) {
    c.credential_sha256 = TokenDigest(credential);  // binds the name (first time only)
  }
  members_.insert(id);
  // The record reaches the store before any update of this client.
  if (record_history_) pending_.batch.clients.push_back(RecordOf(id, c, now_s));
  return id;
}

Status RoundCore::Authenticate(uint64_t client_id, const std::string& token) const {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return NotFoundError(fmt::format("unknown client id {}", client_id));
  if (!TokenMatchesDigest(token, it->second.token_sha256)) {
    return PermissionDeniedError(fmt::format("bad session token for client {}", client_id));
  }
  if (it->second.left) return FailedPreconditionError(fmt::format("client {} has left", client_id));
  return Status();
}

Result<CheckInDecision> RoundCore::CheckIn(uint64_t client_id, const std::string& token,
                                           uint32_t intended_local_steps, double) {
  MURMUR_RETURN_IF_ERROR(Authenticate(client_id, token));
  CheckInDecision d;
  d.model_version = version_;
  if (AtMaxRounds()) {
    d.kind = CheckInDecision::Kind::kFinished;
    d.reason = fmt::format("job finished at version {}", version_);
    return d;
  }
  if (!failed_.ok()) return UnavailableError("coordinator stopped: " + failed_.message());
  ClientState& c = clients_[client_id];
  c.grace = false;
  const TrainingRecipe& recipe = config_.recipe;
  if (c.caps.max_local_steps != 0 && c.caps.max_local_steps < recipe.min_local_steps) {
    // Granting fewer steps than the job accepts would only get every update
    // rejected; say why instead.
    d.kind = CheckInDecision::Kind::kWait;
    d.retry_after_s = std::max(config_.wait_retry_s, 60.0);
    d.reason = fmt::format(
        "unsupported: this client runs at most {} local steps but the job needs at least {}; "
        "register with max_local_steps >= {} to take part",
        c.caps.max_local_steps, recipe.min_local_steps, recipe.min_local_steps);
    return d;
  }
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
  uint32_t k = intended_local_steps == 0 ? recipe.min_local_steps : intended_local_steps;
  k = std::clamp(k, recipe.min_local_steps, recipe.max_local_steps);
  if (c.caps.max_local_steps != 0) k = std::min(k, c.caps.max_local_steps);
  if (!c.training) ++active_trainers_;
  c.training = true;
  d.kind = CheckInDecision::Kind::kTrain;
  d.local_steps = k;
  d.recipe = recipe;
  return d;
}

Status RoundCore::Leave(uint64_t client_id, const std::string& token, double now_s) {
  MURMUR_RETURN_IF_ERROR(Authenticate(client_id, token));
  ClientState& c = clients_[client_id];
  EndCheckIn(c);
  c.left = true;
  members_.erase(client_id);
  if (record_history_ && failed_.ok()) pending_.batch.clients.push_back(RecordOf(client_id, c, now_s));
  if (!job_out_) MaybeCloseOnCount();  // a leaving client may complete "all reported"
  return Status();
}

void RoundCore::Reject(const UpdateMeta& meta, double received_at_s, RejectReason reason,
                       std::string message, uint64_t staleness, std::optional<Ticket> ticket) {
  store::ParticipationRecord r;
  r.client_id = meta.client_id;
  r.base_version = meta.base_version;
  r.local_steps = meta.local_steps;
  r.num_samples = meta.num_samples;
  r.mean_loss = std::isfinite(meta.mean_loss) ? meta.mean_loss : 0;
  r.staleness = staleness;
  r.accepted = false;
  r.reject_reason = static_cast<int32_t>(reason);
  r.message = message;
  r.received_at_s = received_at_s;
  r.recorded_at_s = received_at_s;
  r.local_lr = config_.recipe.local_lr;
  if (ticket) {
    // A decided update: its record and its outcome travel together.
    if (record_history_) {
      r.id = next_participation_id_++;
      pending_.batch.participations.push_back(std::move(r));
    }
    pending_.acks.push_back({*ticket, Rejection(reason, std::move(message), staleness)});
    return;
  }
  ++rejected_total_;
  if (!record_history_) return;
  if (pending_rejection_records_ >= config_.max_queued_records) {
    ++dropped_records_;  // a flood of bad requests cannot grow memory
    return;
  }
  ++pending_rejection_records_;
  r.id = next_participation_id_++;
  pending_.batch.participations.push_back(std::move(r));
}

std::optional<UpdateOutcome> RoundCore::Admit(const UpdateMeta& meta, uint64_t payload_checksum,
                                              const std::optional<std::string>& busy,
                                              double now_s) {
  if (!failed_.ok()) {
    return Rejection(RejectReason::kInternal, "coordinator stopped: " + failed_.message(), 0);
  }
  auto reject = [&](RejectReason r, std::string msg, uint64_t staleness = 0) {
    UpdateOutcome o = Rejection(r, msg, staleness);
    Reject(meta, now_s, r, std::move(msg), staleness, std::nullopt);
    return o;
  };
  Status auth = Authenticate(meta.client_id, meta.token);
  if (!auth.ok()) {
    // Not written to any client's history: whoever sent it has not shown
    // that it is that client (a flood of forged ids must not fill the store).
    ++unauthenticated_total_;
    return Rejection(auth.code() == StatusCode::kNotFound ? RejectReason::kUnknownClient
                                                          : RejectReason::kBadToken,
                     auth.message(), 0);
  }
  ClientState& c = clients_[meta.client_id];
  if (std::optional<UpdateOutcome> retry = AnswerRetry(meta, payload_checksum)) {
    EndCheckIn(c);
    return retry;
  }
  if (AtMaxRounds()) {
    EndCheckIn(c);
    return reject(RejectReason::kFinished, "the job has finished");
  }
  if (!c.training && !c.grace) {
    return reject(RejectReason::kDuplicate,
                  "no check-in is outstanding for this client (duplicate or unannounced "
                  "update); check in first");
  }
  // Header fields go into the history and the strategy: a bad one is the
  // sender's error, never a reason for the store to refuse the record.
  if (!std::isfinite(meta.mean_loss)) {
    EndCheckIn(c);
    return reject(RejectReason::kMalformed,
                  fmt::format("mean_loss must be a finite number, got {}", meta.mean_loss));
  }
  if (meta.num_samples == 0) {
    EndCheckIn(c);
    return reject(RejectReason::kMalformed, "num_samples must be > 0");
  }
  const TrainingRecipe& recipe = config_.recipe;
  if (meta.local_steps < recipe.min_local_steps || meta.local_steps > recipe.max_local_steps) {
    EndCheckIn(c);
    return reject(RejectReason::kLocalStepsOutOfRange,
                  fmt::format("local steps K={} outside the accepted range [{}, {}]",
                              meta.local_steps, recipe.min_local_steps, recipe.max_local_steps));
  }
  if (meta.base_version == 0) {
    EndCheckIn(c);
    return reject(RejectReason::kMalformed,
                  "base_version must be >= 1 (model versions start at 1)");
  }
  if (meta.base_version > version_) {
    EndCheckIn(c);
    return reject(RejectReason::kMalformed,
                  fmt::format("base version {} is newer than the current version {}",
                              meta.base_version, version_));
  }
  const uint64_t staleness = version_ - meta.base_version;
  if (staleness > MaxStaleness(config_)) {
    EndCheckIn(c);
    return reject(RejectReason::kTooStale,
                  fmt::format("update is {} versions old (base {}, current {}); the limit is {}",
                              staleness, meta.base_version, version_, MaxStaleness(config_)),
                  staleness);
  }
  if (busy) {
    // Back-pressure: the check-in stays open so the client can resend.
    return reject(RejectReason::kBusy, *busy, staleness);
  }
  EndCheckIn(c);
  return std::nullopt;
}

std::optional<UpdateOutcome> RoundCore::AnswerRetry(const UpdateMeta& meta,
                                                    uint64_t payload_checksum) const {
  // A retry of an update that was accepted (its acknowledgement was lost, say
  // in a crash between commit and reply) is answered as it was, whatever its
  // age: the history holds it as accepted.
  if (payload_checksum == 0) return std::nullopt;
  auto it = accepted_keys_.find({meta.client_id, meta.base_version, payload_checksum});
  if (it == accepted_keys_.end()) return std::nullopt;
  UpdateOutcome o;
  o.accepted = true;
  o.round_version = it->second;
  o.staleness = version_ >= meta.base_version ? version_ - meta.base_version : 0;
  o.message = fmt::format("already accepted into round {} (a retry of the same update)",
                          it->second);
  return o;
}

std::optional<UpdateOutcome> RoundCore::OnPayloadChecked(const UpdateMeta& meta,
                                                         const PayloadCheck& check, double now_s) {
  if (check.reason != RejectReason::kNone) {
    UpdateOutcome o = Rejection(check.reason, check.message, 0);
    if (failed_.ok()) Reject(meta, now_s, check.reason, check.message, 0, std::nullopt);
    return o;
  }
  if (config_.mode == RoundMode::kSync) {
    auto it = clients_.find(meta.client_id);
    if (it != clients_.end()) {
      it->second.sent_from_current = true;
      it->second.sent_base = meta.base_version;
    }
  }
  return std::nullopt;
}

void RoundCore::RecordMetrics(uint64_t version, std::map<std::string, double> metrics) {
  if (!record_history_ || !failed_.ok()) return;
  pending_.batch.metrics.emplace_back(version, std::move(metrics));
}

// ---- round inputs ----

void RoundCore::Submit(ValidatedUpdate u, double now_s) {
  if (!failed_.ok()) {
    pending_.acks.push_back(
        {u.ticket, Rejection(RejectReason::kInternal, "coordinator stopped: " + failed_.message(), 0)});
    return;
  }
  const UpdateMeta& m = u.meta;
  auto reject = [&](RejectReason reason, std::string message, uint64_t staleness) {
    Reject(m, u.received_at_s, reason, std::move(message), staleness, u.ticket);
  };
  // The same update sent twice before the first was recorded: the second is
  // answered exactly as a later retry would be (Admit could not know yet).
  if (std::optional<UpdateOutcome> retry = AnswerRetry(m, u.checksum)) {
    pending_.acks.push_back({u.ticket, std::move(*retry), /*retry=*/true});
    return;
  }
  if (AtMaxRounds()) return reject(RejectReason::kFinished, "the job has finished", 0);
  if (m.base_version > version_) {
    return reject(RejectReason::kMalformed,
                  fmt::format("base version {} is newer than the current version {}",
                              m.base_version, version_),
                  0);
  }
  const uint64_t staleness = version_ - m.base_version;
  const uint64_t round = version_ + 1;
  if (staleness > MaxStaleness(config_)) {
    return reject(RejectReason::kTooStale,
                  fmt::format("update is {} versions old when recorded (base {}, current {}); "
                              "the limit is {}",
                              staleness, m.base_version, version_, MaxStaleness(config_)),
                  staleness);
  }
  const auto key = std::make_tuple(m.client_id, m.base_version, u.checksum);
  if (one_update_per_client_) {
    for (const Buffered& p : buffer_) {
      if (p.record.client_id != m.client_id) continue;
      return reject(
          RejectReason::kDuplicate,
          fmt::format("client {} already has an update in round {}; {} takes one update per "
                      "client per round: check in again once version {} is published",
                      m.client_id, round,
                      config_.mode == RoundMode::kSync
                          ? std::string("sync mode")
                          : fmt::format("strategy {}", config_.strategy.name),
                      round),
          staleness);
    }
  }
  store::ParticipationRecord r;
  r.id = next_participation_id_++;
  r.client_id = m.client_id;
  r.base_version = m.base_version;
  r.local_steps = m.local_steps;
  r.num_samples = m.num_samples;
  r.mean_loss = m.mean_loss;
  r.received_at_s = u.received_at_s;
  r.recorded_at_s = now_s;
  r.payload_checksum = u.checksum;
  r.local_lr = config_.recipe.local_lr;
  r.accepted = true;
  r.round_version = round;
  r.staleness = staleness;
  r.message = config_.updates_per_round > 0
                  ? fmt::format("buffered {}/{} for version {}", buffer_.size() + 1,
                                config_.updates_per_round, round)
                  : fmt::format("buffered {} for version {}", buffer_.size() + 1, round);
  UpdateOutcome o;
  o.accepted = true;
  o.staleness = staleness;
  o.round_version = round;
  o.message = r.message;
  if (record_history_) {
    pending_.batch.participations.push_back(r);
    pending_.batch.buffered_payloads.emplace_back(r.id, std::move(u.payload));
  }
  accepted_keys_[key] = round;
  buffer_.push_back({std::move(r), std::move(u.delta)});
  pending_.acks.push_back({u.ticket, std::move(o)});
  MaybeCloseOnCount();
}

void RoundCore::MaybeCloseOnCount() {
  if (!failed_.ok() || buffer_.empty() || close_due_ || AtMaxRounds()) return;
  if (config_.updates_per_round > 0 && buffer_.size() >= config_.updates_per_round) {
    close_due_ = RoundTrigger::kBufferFull;
    return;
  }
  if (config_.mode != RoundMode::kSync || members_.empty()) return;
  std::set<uint64_t> reported;
  for (const Buffered& p : buffer_) reported.insert(p.record.client_id);
  for (uint64_t id : members_) {
    if (!reported.contains(id)) return;
  }
  close_due_ = RoundTrigger::kAllReported;
}

void RoundCore::Tick(double now_s) {
  const std::optional<double> deadline = NextDeadline();
  if (!deadline || close_due_ || job_out_ || now_s < *deadline) return;
  if (!buffer_.empty() || config_.close_empty_rounds) {
    close_due_ = RoundTrigger::kDeadline;
  } else {
    opened_at_s_ = now_s;  // nothing to aggregate: give the round another deadline
  }
}

std::optional<RoundJob> RoundCore::TakeRoundJob() {
  if (!close_due_ || job_out_ || !failed_.ok()) return std::nullopt;
  RoundJob job;
  job.strategy = strategy_.get();
  job.round = version_;
  job.new_version = version_ + 1;
  job.trigger = *close_due_;
  job.opened_at_s = opened_at_s_;
  job.global = model_;
  job.state = state_;
  job.updates.reserve(buffer_.size());
  // Clients that left after their update was buffered still count this round.
  std::set<uint64_t> ids = members_;
  // The deltas move into the job: once a round is due, the buffer is only
  // read for its records (the commit clears it; a failure stops the core).
  for (Buffered& p : buffer_) {
    const store::ParticipationRecord& r = p.record;
    job.updates.push_back({.client_id = r.client_id,
                           .delta = std::move(p.delta),
                           .local_steps = r.local_steps,
                           .num_samples = r.num_samples,
                           .base_version = r.base_version,
                           .staleness = version_ - r.base_version,
                           .local_lr = r.local_lr});
    ids.insert(r.client_id);
  }
  job.all_clients.assign(ids.begin(), ids.end());
  if (!config_.known_p_by_name.empty()) {
    for (uint64_t id : job.all_clients) {
      auto c = clients_.find(id);
      if (c == clients_.end()) continue;
      auto p = config_.known_p_by_name.find(c->second.name);
      if (p != config_.known_p_by_name.end()) job.known_p[id] = p->second;
    }
  }
  for (const auto& [id, p] : config_.known_participation_prob) job.known_p.try_emplace(id, p);
  close_due_.reset();
  job_out_ = true;
  return job;
}

void RoundCore::FinishRound(const RoundJob& job, Result<strategy::Step> step, double now_s) {
  Result<std::string> state_bytes =
      step.ok() ? strategy::SerializeState(step->new_state) : Result<std::string>(step.status());
  if (!state_bytes.ok()) {
    // What was accepted so far stays in the pending write (durable, still
    // buffered after a restart); the core stops.
    job_out_ = false;
    Fail(state_bytes.status().WithContext(
        fmt::format("aggregating round {} with {}", job.new_version, config_.strategy.name)));
    return;
  }
  RoundSummary summary;
  summary.version = job.new_version;
  summary.trigger = job.trigger;
  summary.num_updates = static_cast<uint32_t>(job.updates.size());
  summary.update_norm = DiffNorm(step->new_global, *job.global);
  double loss_sum = 0;
  for (const Buffered& b : buffer_) loss_sum += b.record.mean_loss;
  summary.mean_client_loss =
      buffer_.empty() ? 0 : loss_sum / static_cast<double>(buffer_.size());
  summary.closed_at_s = now_s;
  for (size_t i = 0; i < buffer_.size(); ++i) {
    summary.weights.emplace_back(buffer_[i].record.client_id, step->weights[i]);
  }
  auto model = std::make_shared<const TensorList>(std::move(step->new_global));
  summary.model = model;
  if (record_history_) {
    store::RoundCommit rc;
    rc.round = {.version = job.new_version,
                .trigger = std::string(RoundTriggerName(job.trigger)),
                .num_updates = summary.num_updates,
                .update_norm = summary.update_norm,
                .mean_client_loss = summary.mean_client_loss,
                .opened_at_s = job.opened_at_s,
                .closed_at_s = now_s};
    for (size_t i = 0; i < buffer_.size(); ++i) {
      rc.weights.emplace_back(buffer_[i].record.id, step->weights[i]);
    }
    rc.model = model.get();
    rc.strategy = config_.strategy.name;
    rc.strategy_state = std::move(*state_bytes);
    pending_.batch.round = std::move(rc);
  }
  pending_.has_round = true;
  pending_.round = std::move(summary);
  pending_.new_model = std::move(model);
  pending_.new_state = std::move(step->new_state);
}

PendingWrite RoundCore::TakePendingWrite() {
  PendingWrite w = std::move(pending_);
  pending_ = PendingWrite();
  pending_rejection_records_ = 0;
  return w;
}

Committed RoundCore::OnWriteCommitted(PendingWrite w) {
  Committed out;
  for (const Ack& a : w.acks) {
    if (a.retry) continue;
    if (a.outcome.accepted) {
      ++accepted_total_;
    } else {
      ++rejected_total_;
    }
  }
  out.acks = std::move(w.acks);
  if (!w.has_round) return out;
  // The round is durable: now change the state to match.
  model_ = std::move(w.new_model);
  state_ = std::move(w.new_state);
  version_ = w.round->version;
  buffer_.clear();
  opened_at_s_ = w.round->closed_at_s;
  job_out_ = false;
  const uint64_t horizon = AcceptedKeyHorizon(config_);
  const uint64_t oldest_base = version_ > horizon ? version_ - horizon : 0;
  std::erase_if(accepted_keys_, [&](const auto& kv) { return std::get<1>(kv.first) < oldest_base; });
  out.round = std::move(w.round);
  return out;
}

std::vector<Ack> RoundCore::OnWriteFailed(PendingWrite w, const Status& why) {
  Fail(why.WithContext("recording to the store"));
  job_out_ = false;
  // Nothing of the write was recorded: say so to every waiting client.
  for (Ack& a : w.acks) {
    if (a.outcome.accepted && !a.retry) {
      a.outcome = Rejection(RejectReason::kInternal,
                            "the update could not be recorded (" + why.message() + ")", 0);
    }
  }
  return std::move(w.acks);
}

void RoundCore::Fail(const Status& why) {
  if (failed_.ok()) failed_ = why;
  close_due_.reset();
}

}  // namespace murmur::server::core
