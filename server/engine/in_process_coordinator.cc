#include "server/engine/in_process_coordinator.h"

#include "server/engine/client_credential.h"

namespace murmur::server {

InProcessCoordinator::InProcessCoordinator(RoundEngine* engine) : engine_(engine) {}

Status InProcessCoordinator::CheckRegistered() const {
  if (client_id_ == 0) return FailedPreconditionError("not registered: call Register first");
  return Status();
}

Result<api::Registration> InProcessCoordinator::Register(
    const std::string& client_name, const api::ClientCapabilities& capabilities,
    const std::string& enrollment_secret) {
  MURMUR_ASSIGN_OR_RETURN(std::string credential,
                          CredentialFromEnrollmentSecret(enrollment_secret));
  Result<api::Registration> r = engine_->Register(client_name, capabilities, credential);
  if (!r.ok()) return r.status();
  client_id_ = r->client_id;
  token_ = r->token;
  return r;
}

Result<api::CheckInDecision> InProcessCoordinator::CheckIn(uint32_t intended_local_steps,
                                                           uint64_t have_version) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  Result<api::CheckInDecision> d = engine_->CheckIn(client_id_, token_, intended_local_steps);
  if (!d.ok()) return d.status();
  // Only what murmur.v1.CheckInResponse carries for each kind, as the
  // service fills it (the recipe comes from the engine's config).
  api::CheckInDecision out;
  out.kind = d->kind;
  switch (d->kind) {
    case api::CheckInDecision::Kind::kTrain:
      out.model_version = d->model_version;
      out.model_bytes = d->model_bytes;
      out.local_steps = d->local_steps;
      out.recipe = engine_->recipe();
      out.have_current = have_version != 0 && have_version == d->model_version;
      break;
    case api::CheckInDecision::Kind::kWait:
      out.retry_after_s = d->retry_after_s;
      out.reason = d->reason;
      break;
    case api::CheckInDecision::Kind::kFinished:
      out.model_version = d->model_version;
      out.reason = d->reason;
      break;
  }
  return out;
}

Result<api::PulledModel> InProcessCoordinator::PullModel(uint64_t version) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  MURMUR_RETURN_IF_ERROR(engine_->Authenticate(client_id_, token_));  // as the service does
  Result<SnapshotPtr> snap = engine_->Snapshot(version);
  if (!snap.ok()) return snap.status();
  const ModelSnapshot& s = **snap;
  return api::PulledModel{.version = s.version, .encoding = s.encoding, .bytes = s.bytes};
}

Result<api::UpdateOutcome> InProcessCoordinator::PushUpdate(const api::UpdateToPush& update) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  UpdateMeta meta;
  meta.client_id = client_id_;
  meta.token = token_;
  meta.base_version = update.base_version;
  meta.local_steps = update.local_steps;
  meta.num_samples = update.num_samples;
  meta.mean_loss = update.mean_loss;
  api::UpdateOutcome o = engine_->SubmitUpdate(meta, update.payload);
  // As the service: busy is a transient error, not a rejection.
  if (o.reason == api::RejectReason::kBusy) return UnavailableError(o.message);
  return o;
}

Status InProcessCoordinator::Leave(const std::string& /*reason*/) {
  MURMUR_RETURN_IF_ERROR(CheckRegistered());
  return engine_->Leave(client_id_, token_);
}

}  // namespace murmur::server
