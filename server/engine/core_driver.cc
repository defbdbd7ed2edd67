#include "server/engine/core_driver.h"

#include "common/checksum.h"
#include "server/update_validation.h"

namespace murmur::server::core {

std::optional<UpdateOutcome> CoreDriver::Offer(const UpdateMeta& meta, std::string payload,
                                               double now_s, Ticket ticket) {
  const uint64_t checksum = Xxh3(payload);
  if (std::optional<UpdateOutcome> rejected = core_->Admit(meta, checksum, std::nullopt, now_s)) {
    return rejected;
  }
  const EngineConfig& cfg = core_->config();
  PayloadCheck check =
      CheckUpdatePayload(payload, core_->spec(), cfg.max_update_bytes, cfg.max_update_norm);
  if (std::optional<UpdateOutcome> rejected = core_->OnPayloadChecked(meta, check, now_s)) {
    return rejected;
  }
  core_->Submit(MakeValidatedUpdate(meta, std::move(payload), checksum, std::move(check.delta),
                                    now_s, ticket, store_ != nullptr),
                now_s);
  return std::nullopt;
}

Settled CoreDriver::Settle(double now_s) {
  Settled out;
  while (std::optional<RoundJob> job = core_->TakeRoundJob()) {
    core_->FinishRound(*job, job->Run(), now_s);
    Commit(core_->TakePendingWrite(), out);
  }
  if (core_->HasPendingWrite()) Commit(core_->TakePendingWrite(), out);
  return out;
}

void CoreDriver::Commit(PendingWrite write, Settled& out) {
  Status written;
  if (store_ != nullptr && !write.batch.empty()) written = store_->Write(write.batch);
  std::vector<Ack> acks;
  if (!written.ok()) {
    acks = core_->OnWriteFailed(std::move(write), written);
  } else {
    Committed c = core_->OnWriteCommitted(std::move(write));
    acks = std::move(c.acks);
    if (c.round) out.rounds.push_back(std::move(*c.round));
  }
  for (Ack& a : acks) out.acks.push_back(std::move(a));
}

}  // namespace murmur::server::core
