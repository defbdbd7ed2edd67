// Value types the round engine takes and returns. The ones a client sees
// (registration, check-in, outcome) are common/api's domain messages; the
// rest are the engine's own. None depends on protobuf, so the engine (and
// the simulator, which skips the network) stays free of gRPC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/api/types.h"
#include "common/codec/tensor_codec.h"

namespace murmur::server {

// The wire-level domain types are common/api's (shared with the clients).
using api::CheckInDecision;
using api::ClientCapabilities;
using api::Registration;
using api::RejectReason;
using api::RejectReasonName;
using api::TrainingRecipe;
using api::UpdateOutcome;

// An encoded global model version, immutable once published.
struct ModelSnapshot {
  uint64_t version = 0;
  Encoding encoding = Encoding::kFp32;
  std::string bytes;
  uint64_t checksum = 0;  // XXH3-64 of bytes
};
using SnapshotPtr = std::shared_ptr<const ModelSnapshot>;

struct UpdateMeta {
  uint64_t client_id = 0;
  std::string token;
  uint64_t base_version = 0;
  uint32_t local_steps = 0;
  uint64_t num_samples = 0;
  double mean_loss = 0;
  // XXH3-64 of the payload as the sender declares it (the service passes
  // the header's): the engine verifies it on its validation pool and rejects
  // a mismatch as malformed. 0: the engine computes it.
  uint64_t payload_checksum = 0;
};

// Why a round closed.
enum class RoundTrigger {
  kBufferFull,   // m updates were buffered (async / anarchic: AFA-CD, FedBuff)
  kDeadline,     // the round's deadline passed on the engine's Clock (sync)
  kAllReported,  // every registered client has an update in the round (sync)
};
std::string_view RoundTriggerName(RoundTrigger t);  // "buffer_full", "deadline", "all_reported"

// What the engine reports when a round closes (after it is durably committed).
struct RoundSummary {
  uint64_t version = 0;  // the version this round produced
  RoundTrigger trigger = RoundTrigger::kBufferFull;
  uint32_t num_updates = 0;
  double update_norm = 0;  // ||x_{t+1} - x_t||
  double mean_client_loss = 0;
  double closed_at_s = 0;  // engine Clock
  // Wall seconds the worker took to close it: aggregation, encoding the new
  // version, the checkpoint file and the commit (steady clock).
  double close_seconds = 0;
  // (client id, weight the strategy gave its update), in arrival order.
  std::vector<std::pair<uint64_t, double>> weights;
  std::shared_ptr<const TensorList> model;  // x_version
};

// A snapshot of the engine's counters (Admin Status).
struct EngineStats {
  std::string strategy;
  std::string mode;  // "async" or "sync"
  uint64_t version = 0;
  uint64_t registered_clients = 0;  // not left
  uint64_t active_trainers = 0;     // checked in, update not yet received
  uint64_t queued_updates = 0;      // validated, waiting for the worker
  uint64_t buffered_updates = 0;    // recorded, waiting for their round to close
  uint64_t accepted_updates = 0;    // over the store's whole history
  uint64_t rejected_updates = 0;
  uint64_t unauthenticated_attempts = 0;  // since start: unknown id or bad token (not recorded)
  double uptime_s = 0;
  bool finished = false;
};

}  // namespace murmur::server
