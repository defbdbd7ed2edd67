#include "client/runtime/participant.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/codec/tensor_codec.h"
#include "common/logging.h"
#include "ml/batch_sampler.h"

namespace murmur::client {
namespace {

// Worth retrying after a wait: the coordinator is down, restarting (its
// shutdown cancels calls in progress), overloaded, or a download was corrupt.
bool IsTransient(const Status& st) {
  switch (st.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

// Rejections after which resending the same update can never succeed.
bool IsDefinitive(api::RejectReason r) {
  switch (r) {
    case api::RejectReason::kUnknownClient:
    case api::RejectReason::kBadToken:
    case api::RejectReason::kDuplicate:
    case api::RejectReason::kInternal:
    case api::RejectReason::kBusy:
    case api::RejectReason::kNone:
      return false;
    default:
      return true;
  }
}

}  // namespace

Participant::Participant(ParticipantOptions options, api::CoordinatorApi* api,
                         std::unique_ptr<ParticipationPolicy> policy, StateDir state,
                         Clock* clock, const model::Examples* examples,
                         std::vector<uint32_t> shard)
    : options_(std::move(options)),
      api_(api),
      state_(std::move(state)),
      outbox_(state_.outbox_dir()),
      clock_(clock),
      examples_(examples),
      shard_(std::move(shard)),
      rng_(options_.seed),
      backoff_(options_.backoff, Rng(options_.seed).Fork(7)),
      policy_(std::move(policy)) {
  if (auto* configured = dynamic_cast<ConfiguredPolicy*>(policy_.get())) {
    if (Result<ParticipationRecord> r = state_.LoadParticipation(); r.ok()) {
      configured->RestoreBudget(r->budget_day, r->budget_used_s);
    }
  }
}

Participant::~Participant() = default;

void Participant::Stop() {
  stop_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  wake_.notify_all();
}

void Participant::ReplacePolicy(std::unique_ptr<ParticipationPolicy> policy) {
  std::lock_guard<std::mutex> lock(mu_);
  next_policy_ = std::move(policy);
}

ParticipantStats Participant::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

ParticipationPolicy* Participant::policy() {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_policy_) {
    if (auto* configured = dynamic_cast<ConfiguredPolicy*>(next_policy_.get())) {
      if (auto* old = dynamic_cast<ConfiguredPolicy*>(policy_.get())) {
        configured->RestoreBudget(old->budget_day(), old->budget_used_s());
      }
    }
    policy_ = std::move(next_policy_);
    log::Info("policy replaced", {{"policy", policy_->Describe()}});
  }
  return policy_.get();
}

void Participant::WaitFor(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, seconds)),
                 [&] { return stop_.load(); });
}

double Participant::TransientWait(const Status& st, std::string_view what) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.transient_errors;
  }
  const double wait = backoff_.NextDelay();
  log::Warn("coordinator unavailable, backing off",
            {{"during", std::string(what)}, {"error", st.ToString()}, {"retry_in_s", wait},
             {"attempt", backoff_.attempts()}});
  return wait;
}

bool Participant::IsSessionError(const Status& st) const {
  return st.code() == StatusCode::kPermissionDenied ||
         st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kNotFound;
}

Status Participant::Run() {
  log::Info("participant starting", {{"name", options_.name}, {"shard", shard_.size()},
                                     {"policy", policy()->Describe()}});
  while (!stop_.load()) {
    Result<double> wait = RunOnce();
    if (!wait.ok()) {
      // This client cannot serve the job (wrong model, refused credential,
      // broken state dir): free its check-in slot at the coordinator.
      if (registered_) {
        if (Status st = api_->Leave(wait.status().message()); !st.ok()) {
          log::Warn("leave failed", {{"error", st.ToString()}});
        }
      }
      return wait.status();
    }
    const ParticipantStats s = stats();
    if (s.finished && options_.exit_when_finished) {
      log::Info("job finished; participant exits", {{"accepted", s.accepted}});
      return Status::Ok();
    }
    if (LimitReached()) {
      log::Info("participation limit reached", {{"limit", options_.max_participations}});
      return Status::Ok();
    }
    WaitFor(std::max(options_.min_wait_s, *wait));
  }
  log::Info("participant stopped", {{"name", options_.name}});
  return Status::Ok();
}

bool Participant::LimitReached() const {
  const ParticipantStats s = stats();
  return options_.max_participations > 0 && s.accepted + s.rejected >= options_.max_participations;
}

Status Participant::EnsureModel() {
  if (trainer_) return Status::Ok();
  MURMUR_ASSIGN_OR_RETURN(trainer_, trainer::LocalTrainer::Create(options_.model, options_.train));
  trainer_options_ = options_.train;
  model_spec_ = trainer_->spec();
  model_spec_hash_ = api::ModelSpecHash(model_spec_);
  // Report the device actually in use ("cuda:0", "cpu"), not "auto".
  options_.capabilities.device = trainer_->device();
  log::Info("model built", {{"model", trainer_->Describe()}, {"device", trainer_->device()}});
  return Status::Ok();
}

Status Participant::CheckRecipe(const api::TrainingRecipe& recipe) const {
  if (recipe.model_spec_hash != 0 && recipe.model_spec_hash != model_spec_hash_) {
    return FailedPreconditionError(fmt::format(
        "the coordinator's job trains another model than this client's (model spec hash "
        "{:016x}, this client's {:016x}: {}); this client does not train",
        recipe.model_spec_hash, model_spec_hash_, api::ModelSpecString(model_spec_)));
  }
  if (Result<trainer::OptimizerKind> o = trainer::ParseOptimizer(recipe.optimizer); !o.ok()) {
    return FailedPreconditionError(fmt::format(
        "the coordinator's recipe asks for optimizer '{}', which this client does not implement "
        "(it has: {}); this client does not train",
        recipe.optimizer, api::KnownOptimizers()));
  }
  return Status::Ok();
}

Status Participant::EnsureRegistered() {
  if (registered_) return Status::Ok();
  MURMUR_RETURN_IF_ERROR(EnsureModel());
  if (identity_.name.empty()) {
    MURMUR_ASSIGN_OR_RETURN(std::optional<ClientIdentity> saved, state_.LoadIdentity());
    if (saved && saved->name != options_.name) {
      return FailedPreconditionError(fmt::format(
          "state directory {} belongs to client '{}', not '{}' (use another --state-dir)",
          state_.path(), saved->name, options_.name));
    }
    if (saved) identity_ = *saved;
    identity_.name = options_.name;
    if (!options_.enrollment_secret.empty()) identity_.enrollment_secret = options_.enrollment_secret;
    if (identity_.enrollment_secret.empty()) {
      MURMUR_ASSIGN_OR_RETURN(identity_.enrollment_secret, GenerateSecret());
      log::Info("generated an enrollment secret", {{"path", state_.path() + "/identity.json"}});
    }
    MURMUR_RETURN_IF_ERROR(state_.SaveIdentity(identity_));
  }
  Result<api::Registration> reg =
      api_->Register(identity_.name, options_.capabilities, identity_.enrollment_secret);
  if (!reg.ok()) return reg.status();
  const bool same = identity_.client_id == reg->client_id;
  if (identity_.client_id != 0 && !same) {
    log::Warn("coordinator gave a new client id (its state was reset?)",
              {{"old", identity_.client_id}, {"new", reg->client_id}});
  }
  identity_.client_id = reg->client_id;
  identity_.token = reg->token;
  MURMUR_RETURN_IF_ERROR(state_.SaveIdentity(identity_));
  registered_ = true;
  if (!reg->model_spec.empty()) {  // empty: a coordinator that does not say
    MURMUR_RETURN_IF_ERROR(api::CheckSameModelSpec(reg->model_spec, model_spec_)
                               .WithContext(model::ModelConfigToString(options_.model)));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.registrations;
  }
  log::Info("registered", {{"name", identity_.name}, {"client_id", reg->client_id},
                           {"model_version", reg->model_version}});
  return Status::Ok();
}

Result<double> Participant::RunOnce() {
  if (Status st = EnsureRegistered(); !st.ok()) {
    if (IsTransient(st)) return TransientWait(st, "register");
    return st.WithContext("register");
  }
  double wait = 0;
  MURMUR_ASSIGN_OR_RETURN(bool flushed, FlushOutbox(&wait));
  if (!flushed || stop_.load()) return wait;
  if (stats().finished || LimitReached()) return 0.0;

  ParticipationDecision d = policy()->Decide();
  if (!d.participate) {
    log::Info("not participating", {{"reason", d.reason}, {"retry_in_s", d.retry_after_s}});
    return std::min(d.retry_after_s, options_.max_wait_s);
  }
  log::Info("participating", {{"reason", d.reason}, {"k", d.local_steps}});
  return Participate(d.local_steps);
}

Result<bool> Participant::FlushOutbox(double* wait_s) {
  MURMUR_ASSIGN_OR_RETURN(std::vector<OutboxEntry> entries, outbox_.List());
  for (const OutboxEntry& e : entries) {
    if (stop_.load()) return false;
    log::Info("sending from outbox", {{"id", e.id}, {"base_version", e.update.base_version}});
    MURMUR_ASSIGN_OR_RETURN(PushResult r, SendEntry(e, wait_s));
    if (r == PushResult::kLostSession) {
      registered_ = false;
      *wait_s = options_.min_wait_s;
      return false;
    }
    if (r == PushResult::kRetryLater) return false;
  }
  return true;
}

Result<Participant::PushResult> Participant::SendEntry(const OutboxEntry& e, double* wait_s) {
  bool checked_in = false;
  for (;;) {
    Result<api::UpdateOutcome> out = api_->PushUpdate(e.update);
    if (!out.ok()) {
      if (IsTransient(out.status())) {
        *wait_s = TransientWait(out.status(), "push");
        return PushResult::kRetryLater;
      }
      if (IsSessionError(out.status())) return PushResult::kLostSession;
      return out.status().WithContext("push");
    }
    backoff_.Reset();
    if (out->accepted) {
      log::Info("update accepted", {{"id", e.id}, {"base_version", e.update.base_version},
                                    {"round_version", out->round_version},
                                    {"staleness", out->staleness}, {"message", out->message}});
      MURMUR_RETURN_IF_ERROR(outbox_.Remove(e.id));
      RecordOutcome(e.update, "accepted", true, false, out->round_version);
      return PushResult::kDone;
    }
    const std::string reason(api::RejectReasonName(out->reason));
    if (out->reason == api::RejectReason::kUnknownClient ||
        out->reason == api::RejectReason::kBadToken) {
      log::Warn("session lost; registering again", {{"reason", reason}, {"message", out->message}});
      return PushResult::kLostSession;
    }
    if (out->reason == api::RejectReason::kDuplicate && !checked_in) {
      // No check-in outstanding (this client restarted, or the coordinator
      // did): announce the update, then send it again.
      Result<api::CheckInDecision> d = api_->CheckIn(e.update.local_steps, e.update.base_version);
      if (!d.ok()) {
        if (IsTransient(d.status())) {
          *wait_s = TransientWait(d.status(), "check-in for an outbox update");
          return PushResult::kRetryLater;
        }
        if (IsSessionError(d.status())) return PushResult::kLostSession;
        return d.status().WithContext("check-in");
      }
      if (d->kind == api::CheckInDecision::Kind::kWait) {
        *wait_s = std::min(std::max(d->retry_after_s, options_.min_wait_s), options_.max_wait_s);
        log::Info("outbox update waits for a check-in", {{"reason", d->reason}});
        return PushResult::kRetryLater;
      }
      if (d->kind == api::CheckInDecision::Kind::kFinished) {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.finished = true;
      }
      checked_in = true;
      continue;
    }
    if (out->reason == api::RejectReason::kInternal) {
      *wait_s = backoff_.NextDelay();
      log::Warn("coordinator failed internally; update kept",
                {{"id", e.id}, {"message", out->message}, {"retry_in_s", *wait_s}});
      return PushResult::kRetryLater;
    }
    log::Warn("update rejected for good; dropped from the outbox",
              {{"id", e.id}, {"reason", reason}, {"message", out->message},
               {"staleness", out->staleness}, {"definitive", IsDefinitive(out->reason)}});
    MURMUR_RETURN_IF_ERROR(outbox_.Remove(e.id));
    if (out->reason == api::RejectReason::kFinished) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.finished = true;
    }
    RecordOutcome(e.update, "rejected: " + reason + ": " + out->message, false, true, 0);
    return PushResult::kDone;
  }
}

Result<double> Participant::Participate(uint32_t intended_k) {
  using Steady = std::chrono::steady_clock;
  const auto since = [](Steady::time_point t) {
    return std::chrono::duration<double>(Steady::now() - t).count();
  };
  const auto t_checkin = Steady::now();
  Result<api::CheckInDecision> d = api_->CheckIn(intended_k, held_version_);
  const double checkin_s = since(t_checkin);
  if (!d.ok()) {
    if (IsTransient(d.status())) return TransientWait(d.status(), "check-in");
    if (IsSessionError(d.status())) {
      registered_ = false;
      return options_.min_wait_s;
    }
    return d.status().WithContext("check-in");
  }
  backoff_.Reset();
  switch (d->kind) {
    case api::CheckInDecision::Kind::kWait:
      log::Info("coordinator says wait", {{"reason", d->reason}, {"retry_in_s", d->retry_after_s}});
      return std::min(d->retry_after_s, options_.max_wait_s);
    case api::CheckInDecision::Kind::kFinished: {
      log::Info("coordinator says the job has finished",
                {{"version", d->model_version}, {"reason", d->reason}});
      std::lock_guard<std::mutex> lock(mu_);
      stats_.finished = true;
      return 0.0;
    }
    case api::CheckInDecision::Kind::kTrain:
      break;
  }
  MURMUR_RETURN_IF_ERROR(CheckRecipe(d->recipe));
  MURMUR_RETURN_IF_ERROR(EnsureTrainer(d->recipe));
  const auto t_pull = Steady::now();
  if (!d->have_current || held_version_ != d->model_version || held_model_.empty()) {
    Result<api::PulledModel> pulled = api_->PullModel(d->model_version);
    if (!pulled.ok()) {
      if (IsTransient(pulled.status())) return TransientWait(pulled.status(), "pull");
      if (pulled.status().code() == StatusCode::kNotFound) return options_.min_wait_s;
      return pulled.status().WithContext("pull");
    }
    DecodeOptions opts;
    opts.expected = &trainer_->spec();
    Result<TensorList> global = DecodeTensors(pulled->bytes, opts);
    if (!global.ok()) {
      return FailedPreconditionError(fmt::format(
          "the coordinator's model (version {}) does not fit this client's model ({}): {}",
          pulled->version, model::ModelConfigToString(options_.model),
          global.status().message()));
    }
    held_model_ = std::move(*global);
    held_version_ = pulled->version;
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_version = held_version_;
  }
  const double pull_s = since(t_pull);
  const uint32_t k = d->local_steps > 0 ? d->local_steps : intended_k;
  Result<trainer::LocalUpdate> trained = Train(held_model_, k);
  if (!trained.ok() && trained.status().code() == StatusCode::kAborted) {
    // The trainer's numerical guard (NaN/Inf): drop this round, send nothing.
    log::Warn("local training diverged; nothing sent", {{"error", trained.status().ToString()}});
    return backoff_.NextDelay();
  }
  if (!trained.ok()) return trained.status();
  trainer::LocalUpdate local = std::move(*trained);
  if (local.local_steps < static_cast<int64_t>(std::max<uint32_t>(d->recipe.min_local_steps, 1))) {
    log::Info("stopped before the minimum local steps; nothing to send",
              {{"steps", local.local_steps}, {"min", d->recipe.min_local_steps}});
    return 0.0;
  }
  policy()->Record(static_cast<uint32_t>(local.local_steps), local.wall_seconds);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.trained;
  }
  api::UpdateToPush u;
  u.base_version = held_version_;
  u.local_steps = static_cast<uint32_t>(local.local_steps);
  u.num_samples = static_cast<uint64_t>(local.samples);
  u.mean_loss = local.mean_loss;
  u.train_seconds = local.wall_seconds;
  u.encoding = d->recipe.update_encoding;
  MURMUR_ASSIGN_OR_RETURN(u.payload, EncodeTensors(local.delta, EncodeOptions{.encoding = u.encoding}));
  MURMUR_ASSIGN_OR_RETURN(std::string id, outbox_.Put(u, clock_->NowSeconds()));
  log::Info("trained", {{"k", u.local_steps}, {"base_version", u.base_version},
                        {"loss", u.mean_loss}, {"train_s", u.train_seconds},
                        {"samples_per_s", u.train_seconds > 0 ? u.num_samples / u.train_seconds : 0.0},
                        {"outbox", id}});
  RecordOutcome(u, "queued", false, false, 0);
  if (stop_.load()) return 0.0;  // sent at the next start
  double wait = 0;
  const auto t_push = Steady::now();
  MURMUR_ASSIGN_OR_RETURN(bool flushed, FlushOutbox(&wait));
  const double push_s = since(t_push);
  // The daemon's overhead per participation: talking to the coordinator
  // (check-in + pull + push) over the time spent training.
  log::Info("participation timing",
            {{"checkin_s", checkin_s}, {"pull_s", pull_s}, {"push_s", push_s},
             {"train_s", u.train_seconds},
             {"overhead", u.train_seconds > 0 ? (checkin_s + pull_s + push_s) / u.train_seconds
                                              : 0.0}});
  return flushed ? 0.0 : wait;
}

Status Participant::EnsureTrainer(const api::TrainingRecipe& recipe) {
  if (Status st = examples_->CheckFits(options_.model); !st.ok()) {
    return FailedPreconditionError(fmt::format(
        "this client's data cannot train the job's model: {}", st.message()));
  }
  trainer::TrainOptions t = options_.train;
  t.lr = recipe.local_lr;
  t.batch_size = std::max<int64_t>(1, recipe.batch_size);
  MURMUR_ASSIGN_OR_RETURN(t.optimizer, trainer::ParseOptimizer(recipe.optimizer));
  t.momentum = recipe.momentum;
  if (trainer_ && t.lr == trainer_options_.lr && t.batch_size == trainer_options_.batch_size &&
      t.optimizer == trainer_options_.optimizer && t.momentum == trainer_options_.momentum) {
    return Status::Ok();
  }
  if (Status st = trainer::ValidateTrainOptions(t); !st.ok()) {
    return FailedPreconditionError(
        fmt::format("the coordinator's recipe cannot be trained here: {}", st.message()));
  }
  MURMUR_ASSIGN_OR_RETURN(trainer_, trainer::LocalTrainer::Create(options_.model, t));
  trainer_options_ = t;
  log::Info("trainer ready", {{"model", trainer_->Describe()}, {"lr", t.lr},
                              {"batch", t.batch_size},
                              {"optimizer", std::string(trainer::OptimizerName(t.optimizer))}});
  return Status::Ok();
}

Result<trainer::LocalUpdate> Participant::Train(const TensorList& global, int64_t steps) {
  MURMUR_RETURN_IF_ERROR(trainer_->SetParameters(global).WithContext("the global model"));
  trainer_->ResetOptimizer();
  model::BatchSampler sampler(shard_, Rng(rng_.NextU64()));
  trainer::LocalUpdate u;
  double loss_sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps && !stop_.load(); ++i) {
    MURMUR_ASSIGN_OR_RETURN(trainer::RunStats s, trainer_->RunSteps(*examples_, sampler, 1));
    u.local_steps += s.steps;
    u.samples += s.samples;
    loss_sum += s.mean_loss * static_cast<double>(s.steps);
    if (options_.on_step) options_.on_step(u.local_steps);
  }
  u.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  u.mean_loss = u.local_steps > 0 ? loss_sum / static_cast<double>(u.local_steps) : 0.0;
  u.local_lr = trainer_->options().lr;
  u.delta = trainer_->GetParameters();
  for (size_t i = 0; i < u.delta.size(); ++i) {
    std::vector<float>& d = u.delta[i].data;
    const std::vector<float>& g = global[i].data;
    for (size_t j = 0; j < d.size(); ++j) d[j] -= g[j];
  }
  return u;
}

void Participant::RecordOutcome(const api::UpdateToPush& u, const std::string& outcome,
                                bool accepted, bool rejected, uint64_t round_version) {
  Result<ParticipationRecord> loaded = state_.LoadParticipation();
  ParticipationRecord r = loaded.ok() ? *loaded : ParticipationRecord{};
  r.at_s = clock_->NowSeconds();
  r.base_version = u.base_version;
  r.local_steps = u.local_steps;
  r.train_seconds = u.train_seconds;
  r.mean_loss = u.mean_loss;
  r.outcome = outcome;
  r.round_version = round_version;
  if (accepted) ++r.accepted_total;
  if (rejected) ++r.rejected_total;
  if (auto* configured = dynamic_cast<ConfiguredPolicy*>(policy_.get())) {
    r.budget_day = configured->budget_day();
    r.budget_used_s = configured->budget_used_s();
  }
  if (Status st = state_.SaveParticipation(r); !st.ok()) {
    log::Error("cannot record the participation", {{"error", st.ToString()}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (accepted) ++stats_.accepted;
  if (rejected) ++stats_.rejected;
}

}  // namespace murmur::client
