// Value types the round engine takes and returns. They mirror murmur.v1
// messages without depending on protobuf, so the engine (and the simulator,
// which skips the network) stays free of gRPC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/codec/tensor_codec.h"

namespace murmur::server {

struct ClientCapabilities {
  std::string device;
  uint64_t memory_bytes = 0;
  uint64_t num_samples = 0;
  uint32_t max_local_steps = 0;  // 0: no limit of its own
};

// The training recipe handed out at check-in (murmur.v1.TrainingConfig).
struct TrainingRecipe {
  double local_lr = 0.05;
  uint32_t batch_size = 16;
  uint32_t min_local_steps = 1;
  uint32_t max_local_steps = 50;
  Encoding update_encoding = Encoding::kFp32;
};

struct Registration {
  uint64_t client_id = 0;
  std::string token;
  uint64_t model_version = 0;
  uint64_t model_bytes = 0;
};

struct CheckInDecision {
  enum class Kind { kTrain, kWait, kFinished };
  Kind kind = Kind::kWait;
  uint64_t model_version = 0;
  uint64_t model_bytes = 0;
  uint32_t local_steps = 0;   // K granted
  double retry_after_s = 0;   // kWait
  std::string reason;         // kWait / kFinished
};

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
};

// Values 0..12 equal murmur.v1.RejectReason. kBusy has no wire value: the
// service answers it with gRPC UNAVAILABLE ("busy, retry"), which clients
// treat as transient; the history records it as 13.
enum class RejectReason {
  kNone = 0,
  kUnknownClient = 1,
  kBadToken = 2,
  kTooStale = 3,
  kMalformed = 4,
  kShapeMismatch = 5,
  kNonFinite = 6,
  kNormTooLarge = 7,
  kLocalStepsOutOfRange = 8,
  kTooLarge = 9,
  kFinished = 10,
  kDuplicate = 11,
  kInternal = 12,
  kBusy = 13,  // the engine's update queue is full: nothing was recorded, retry later
};

std::string_view RejectReasonName(RejectReason r);  // "too_stale", "busy", ...

struct UpdateOutcome {
  bool accepted = false;
  RejectReason reason = RejectReason::kNone;
  std::string message;
  uint64_t staleness = 0;
  uint64_t round_version = 0;  // the version this update goes into
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
  double uptime_s = 0;
  bool finished = false;
};

}  // namespace murmur::server
