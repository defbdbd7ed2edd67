// The domain messages between a client and the coordinator, in plain C++
// (no protobuf, no gRPC, no torch). They mirror murmur.v1 message for
// message: the gRPC edge (server/service, client/transport) only copies
// fields, and the engine and the simulator use them directly.
//
// Plain values: safe to copy and move between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec/tensor.h"
#include "common/codec/tensor_codec.h"
#include "common/status.h"

namespace murmur::api {

// What a client can do; reported at Register (murmur.v1.Capabilities).
struct ClientCapabilities {
  std::string device;
  uint64_t memory_bytes = 0;
  uint64_t num_samples = 0;
  uint32_t max_local_steps = 0;  // 0: no limit of its own
  // Update encodings it can produce. A job whose update encoding is not
  // among them refuses the registration. Empty: not stated (any).
  std::vector<Encoding> encodings;
};

// The training recipe handed out at check-in (murmur.v1.TrainingConfig).
struct TrainingRecipe {
  double local_lr = 0.05;
  uint32_t batch_size = 16;
  uint32_t min_local_steps = 1;
  uint32_t max_local_steps = 50;
  Encoding update_encoding = Encoding::kFp32;
  // The local optimizer: "sgd", "momentum" (heavy-ball, `momentum`), "adam"
  // or "adamw". A client that does not implement it refuses to train.
  std::string optimizer = "sgd";
  double momentum = 0.9;
  // ModelSpecHash of the job's model: set by the coordinator, not configured.
  uint64_t model_spec_hash = 0;
};

// The optimizer names a recipe may carry (the client's LocalTrainer
// implements each): "sgd, momentum, adam, adamw".
bool IsKnownOptimizer(std::string_view name);
std::string_view KnownOptimizers();

// The answer to Register: the session's identity and the current model.
struct Registration {
  uint64_t client_id = 0;
  std::string token;  // sent with every later call of the session
  uint64_t model_version = 0;
  uint64_t model_bytes = 0;
  ModelSpec model_spec;  // the job's model: names and shapes, in order
};

// The answer to a check-in. Which fields are set depends on `kind`:
//   kTrain     model_version (pull it), model_bytes, local_steps (K granted:
//              the intended K clamped to the accepted range), recipe,
//              have_current (the check-in's have_version is model_version:
//              train on the model already held, no pull)
//   kWait      retry_after_s, reason (e.g. "concurrent trainer cap (4) reached")
//   kFinished  model_version (the final version), reason
// Fields not listed for a kind are left at their defaults.
struct CheckInDecision {
  enum class Kind { kTrain, kWait, kFinished };
  Kind kind = Kind::kWait;
  uint64_t model_version = 0;
  uint64_t model_bytes = 0;
  uint32_t local_steps = 0;
  TrainingRecipe recipe;
  bool have_current = false;
  double retry_after_s = 0;
  std::string reason;
};

// A model version as a client receives it: codec bytes (common/codec).
struct PulledModel {
  uint64_t version = 0;
  Encoding encoding = Encoding::kFp32;
  std::string bytes;
};

// What a client pushes after local training (murmur.v1.UpdateHeader plus
// the payload). The one type for "an update on its way to the coordinator";
// a trainer's own result (a TensorList delta) is encoded into `payload`.
struct UpdateToPush {
  uint64_t base_version = 0;  // the global version the update was computed from
  uint32_t local_steps = 0;   // K actually run
  uint64_t num_samples = 0;   // samples seen during those K steps
  double mean_loss = 0;
  double train_seconds = 0;
  // How the client encoded the payload's tensors (kept with the update in
  // its outbox). Not sent on its own: the payload names each tensor's
  // encoding.
  Encoding encoding = Encoding::kFp32;
  std::string payload;  // EncodeTensors(delta)
};

// Values 0..12 equal murmur.v1.RejectReason. kBusy has no wire value: the
// service answers it with gRPC UNAVAILABLE ("busy, retry"), and
// CoordinatorApi::PushUpdate returns it as an UNAVAILABLE Status; the
// history records it as 13.
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

// A hash of a model's names and shapes, in order (XXH3-64 of a canonical
// text form); never 0. Equal specs hash equal on every platform.
uint64_t ModelSpecHash(const ModelSpec& spec);
// "3 tensors: w1 [64, 8], b1 [8], w2 [8, 10]".
std::string ModelSpecString(const ModelSpec& spec);
// OK when `mine` equals the coordinator's `job` spec; else FAILED_PRECONDITION
// naming the first difference and both models.
Status CheckSameModelSpec(const ModelSpec& job, const ModelSpec& mine);
// OK when `caps` can produce `job_encoding` (or states no encodings); else
// FAILED_PRECONDITION naming the job's encoding and the client's.
Status CheckEncodingSupported(const ClientCapabilities& caps, Encoding job_encoding);

// What became of a pushed update (murmur.v1.PushUpdateResponse).
struct UpdateOutcome {
  bool accepted = false;
  RejectReason reason = RejectReason::kNone;
  std::string message;         // why, in words (either outcome)
  uint64_t staleness = 0;      // current version - base_version at arrival
  uint64_t round_version = 0;  // the version this update goes into (accepted only)
};

}  // namespace murmur::api
