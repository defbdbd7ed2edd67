#include "server/round_engine.h"

#include <fmt/format.h>

#include <cmath>

#include "common/checksum.h"

namespace murmur::server {
namespace {

double L2Norm(const TensorList& tensors) {
  double sum = 0;
  for (const Tensor& t : tensors) {
    for (float v : t.data) sum += static_cast<double>(v) * v;
  }
  return std::sqrt(sum);
}

RejectReason ReasonForDecodeError(const Status& s) {
  switch (s.code()) {
    case StatusCode::kFailedPrecondition: return RejectReason::kShapeMismatch;
    case StatusCode::kOutOfRange: return RejectReason::kNonFinite;
    case StatusCode::kResourceExhausted: return RejectReason::kTooLarge;
    default: return RejectReason::kMalformed;
  }
}

}  // namespace

RoundEngine::RoundEngine(EngineConfig config, TensorList initial_model, Clock* clock, Rng* rng)
    : config_(std::move(config)),
      spec_(SpecOf(initial_model)),
      clock_(clock),
      rng_(rng),
      global_(std::move(initial_model)) {
  std::lock_guard<std::mutex> lock(mu_);
  PublishLocked();
}

void RoundEngine::PublishLocked() {
  auto snap = std::make_shared<ModelSnapshot>();
  snap->version = version_;
  snap->encoding = config_.model_encoding;
  Status s = EncodeTensorsInto(global_, {.encoding = config_.model_encoding}, &snap->bytes);
  if (!s.ok()) DieWithStatus(s, "encoding the global model");  // finite by construction
  snap->checksum = Xxh3(snap->bytes);
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
  return config_.max_rounds != 0 && rounds_closed_ >= config_.max_rounds;
}

TensorList RoundEngine::GlobalModel() const {
  std::lock_guard<std::mutex> lock(mu_);
  return global_;
}

Result<Registration> RoundEngine::Register(const std::string& client_name,
                                           const ClientCapabilities& caps) {
  if (client_name.empty() || client_name.size() > 256) {
    return InvalidArgumentError("client name must be 1..256 bytes");
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id;
  auto it = ids_by_name_.find(client_name);
  if (it != ids_by_name_.end()) {
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
  c.name = client_name;
  c.caps = caps;
  c.left = false;
  c.token = fmt::format("{:016x}{:016x}", rng_->NextU64(), rng_->NextU64());
  return Registration{id, c.token, version_, current_->bytes.size()};
}

Status RoundEngine::Authenticate(uint64_t client_id, const std::string& token) const {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return NotFoundError(fmt::format("unknown client id {}", client_id));
  if (it->second.token != token) {
    return PermissionDeniedError(fmt::format("bad session token for client {}", client_id));
  }
  if (it->second.left) return FailedPreconditionError(fmt::format("client {} has left", client_id));
  return Status();
}

Result<CheckInDecision> RoundEngine::CheckIn(uint64_t client_id, const std::string& token,
                                             uint32_t intended_local_steps) {
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(Authenticate(client_id, token));
  CheckInDecision d;
  if (config_.max_rounds != 0 && rounds_closed_ >= config_.max_rounds) {
    d.kind = CheckInDecision::Kind::kFinished;
    d.model_version = version_;
    d.reason = fmt::format("job finished after {} rounds", rounds_closed_);
    return d;
  }
  ClientState& c = clients_[client_id];
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
  d.model_version = version_;
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

UpdateOutcome RoundEngine::Reject(RejectReason reason, std::string message, uint64_t staleness) {
  UpdateOutcome o;
  o.accepted = false;
  o.reason = reason;
  o.message = std::move(message);
  o.staleness = staleness;
  return o;
}

UpdateOutcome RoundEngine::SubmitUpdate(const UpdateMeta& meta, std::string_view payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Status auth = Authenticate(meta.client_id, meta.token);
    if (!auth.ok()) {
      return Reject(auth.code() == StatusCode::kNotFound ? RejectReason::kUnknownClient
                                                         : RejectReason::kBadToken,
                    auth.message());
    }
  }
  // Decode and validate outside the lock: the global model is untouched.
  auto finish_rejected = [&](RejectReason r, std::string msg, uint64_t staleness = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    ClientState& c = clients_[meta.client_id];
    if (c.training) {
      c.training = false;
      --active_trainers_;
    }
    ++c.rejected;
    return Reject(r, std::move(msg), staleness);
  };
  if (meta.local_steps < config_.recipe.min_local_steps ||
      meta.local_steps > config_.recipe.max_local_steps) {
    return finish_rejected(RejectReason::kLocalStepsOutOfRange,
                           fmt::format("local steps K={} outside the accepted range [{}, {}]",
                                       meta.local_steps, config_.recipe.min_local_steps,
                                       config_.recipe.max_local_steps));
  }
  DecodeOptions opts;
  opts.max_bytes = config_.max_update_bytes;
  opts.expected = &spec_;
  Result<TensorList> delta = DecodeTensors(payload, opts);
  if (!delta.ok()) {
    return finish_rejected(ReasonForDecodeError(delta.status()), delta.status().message());
  }
  const double norm = L2Norm(*delta);
  if (norm > config_.max_update_norm) {
    return finish_rejected(RejectReason::kNormTooLarge,
                           fmt::format("update norm {:.4g} exceeds the bound {:.4g}", norm,
                                       config_.max_update_norm));
  }

  RoundSummary summary;
  std::function<void(const RoundSummary&)> observer;
  UpdateOutcome outcome;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ClientState& c = clients_[meta.client_id];
    if (!c.training) {
      ++c.rejected;
      return Reject(RejectReason::kDuplicate,
                    "no check-in is outstanding for this client (duplicate or unannounced update)");
    }
    c.training = false;
    --active_trainers_;
    if (config_.max_rounds != 0 && rounds_closed_ >= config_.max_rounds) {
      ++c.rejected;
      return Reject(RejectReason::kFinished, "the job has finished");
    }
    if (meta.base_version > version_) {
      ++c.rejected;
      return Reject(RejectReason::kMalformed,
                    fmt::format("base version {} is newer than the current version {}",
                                meta.base_version, version_));
    }
    const uint64_t staleness = version_ - meta.base_version;
    if (staleness > config_.max_staleness) {
      ++c.rejected;
      return Reject(RejectReason::kTooStale,
                    fmt::format("update is {} versions old (base {}, current {}); the limit is {}",
                                staleness, meta.base_version, version_, config_.max_staleness),
                    staleness);
    }
    ++c.accepted;
    buffer_.push_back({meta.client_id, std::move(*delta), meta.mean_loss});
    outcome.accepted = true;
    outcome.staleness = staleness;
    outcome.round_version = version_ + 1;
    outcome.message = fmt::format("buffered {}/{} for version {}", buffer_.size(),
                                  config_.updates_per_round, version_ + 1);
    if (buffer_.size() < config_.updates_per_round) return outcome;

    // Close the round: FedAvg over the participants' deltas.
    const double scale = config_.server_lr / static_cast<double>(buffer_.size());
    double step_sq = 0, loss_sum = 0;
    for (size_t ti = 0; ti < global_.size(); ++ti) {
      std::vector<float>& x = global_[ti].data;
      for (size_t j = 0; j < x.size(); ++j) {
        double sum = 0;
        for (const Pending& p : buffer_) sum += p.delta[ti].data[j];
        const double step = scale * sum;
        x[j] = static_cast<float>(x[j] + step);
        step_sq += step * step;
      }
    }
    for (const Pending& p : buffer_) loss_sum += p.loss;
    summary.num_updates = static_cast<uint32_t>(buffer_.size());
    summary.mean_client_loss = loss_sum / static_cast<double>(buffer_.size());
    summary.update_norm = std::sqrt(step_sq);
    buffer_.clear();
    ++version_;
    ++rounds_closed_;
    summary.version = version_;
    PublishLocked();
    observer = observer_;
  }
  if (observer) observer(summary);
  return outcome;
}

Status RoundEngine::Leave(uint64_t client_id, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(Authenticate(client_id, token));
  ClientState& c = clients_[client_id];
  if (c.training) {
    c.training = false;
    --active_trainers_;
  }
  c.left = true;
  return Status();
}

}  // namespace murmur::server
