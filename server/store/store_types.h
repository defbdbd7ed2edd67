// Plain records the Store writes and reads: clients, participation attempts,
// rounds, the job's settings, what one transaction writes (WriteBatch) and
// what a restart recovers (RecoveredState). They carry no SQLite types.
//
// Plain values with no synchronization.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/codec/tensor.h"

namespace murmur::server::store {

// The job's settings saved with its state (setting name -> value as text),
// so a restart can tell whether it runs the same job. The store only keeps
// and returns them; what goes in and how they are compared is the engine's.
using JobSettings = std::map<std::string, std::string>;

struct ClientRecord {
  uint64_t client_id = 0;
  std::string name;
  std::string token_sha256;  // TokenDigest of the current session token (never the token)
  // TokenDigest of the credential the name is bound to (enrollment secret or
  // mTLS certificate subject); empty: not bound yet (registered before v6).
  std::string credential_sha256;
  std::string device;
  uint64_t memory_bytes = 0;
  uint64_t num_samples = 0;
  uint32_t max_local_steps = 0;
  double registered_at_s = 0;
  uint64_t registered_version = 0;  // global version when it (first) registered
  bool left = false;
  double left_at_s = 0;
  double last_seen_s = 0;

  bool operator==(const ClientRecord&) const = default;
};

// One participation attempt: an update that arrived, accepted or rejected.
struct ParticipationRecord {
  uint64_t id = 0;  // assigned by the engine, strictly increasing
  uint64_t client_id = 0;
  uint64_t base_version = 0;
  uint64_t round_version = 0;  // the version it went into; 0 when rejected
  uint32_t local_steps = 0;
  uint64_t num_samples = 0;
  double mean_loss = 0;
  uint64_t staleness = 0;
  std::optional<double> weight;  // the strategy's weight, once its round closed
  bool accepted = false;
  int32_t reject_reason = 0;  // server::RejectReason value
  std::string message;
  double received_at_s = 0;
  double recorded_at_s = 0;
  uint64_t payload_checksum = 0;  // XXH3-64 of the encoded update (0: none)
  double local_lr = 0;            // eta_L the client trained with

  bool operator==(const ParticipationRecord&) const = default;
};

struct RoundRecord {
  uint64_t version = 0;  // the version this round produced
  std::string trigger;   // "buffer_full", "deadline", "all_reported"
  uint32_t num_updates = 0;
  double update_norm = 0;  // ||x_{t+1} - x_t||
  double mean_client_loss = 0;
  double opened_at_s = 0;
  double closed_at_s = 0;
  std::map<std::string, double> metrics;  // evaluation metrics recorded for this version

  bool operator==(const RoundRecord&) const = default;
};

// Everything a round adds beyond its participations. The checkpoint file of
// `model` is written and fsynced before the transaction that records it.
struct RoundCommit {
  RoundRecord round;
  std::vector<std::pair<uint64_t, double>> weights;  // participation id -> weight
  const TensorList* model = nullptr;                 // x_{round.version}
  std::string strategy;                              // the strategy's name
  std::string strategy_state;                        // SerializeState bytes
};

// What Store::Write applies in ONE transaction: all of it or none of it.
struct WriteBatch {
  std::vector<ClientRecord> clients;                  // inserted or replaced
  std::vector<ParticipationRecord> participations;    // inserted
  std::vector<std::pair<uint64_t, std::string>> buffered_payloads;  // participation id -> payload
  std::vector<std::pair<uint64_t, std::map<std::string, double>>> metrics;  // version -> metrics
  std::optional<RoundCommit> round;

  bool empty() const {
    return clients.empty() && participations.empty() && buffered_payloads.empty() &&
           metrics.empty() && !round.has_value();
  }
};

// An accepted update whose round has not closed, with its payload.
struct BufferedUpdate {
  ParticipationRecord record;
  std::string payload;

  bool operator==(const BufferedUpdate&) const = default;
};

// The identity of an accepted update, for exactly-once across restarts.
struct AcceptedKey {
  uint64_t client_id = 0;
  uint64_t base_version = 0;
  uint64_t payload_checksum = 0;
  uint64_t round_version = 0;

  bool operator==(const AcceptedKey&) const = default;
};

// The last committed state, as a restarted coordinator resumes it.
struct RecoveredState {
  uint64_t version = 0;  // latest committed global version
  TensorList model;      // x_version, bit-exact
  std::string strategy;  // name recorded with the state
  std::string strategy_state;  // SerializeState bytes; empty: fresh
  JobSettings settings;        // as last saved by Initialize or ReplaceSettings
  std::vector<ClientRecord> clients;
  std::vector<BufferedUpdate> buffer;  // accepted into round version+1, in arrival order
  std::vector<AcceptedKey> recent_accepted;  // accepted, base_version >= version - max_staleness
  uint64_t next_participation_id = 1;
  double round_opened_at_s = 0;  // when round version+1 opened
  uint64_t accepted_total = 0;
  uint64_t rejected_total = 0;
};

// Per-client participation statistics for the Admin API. Intervals are
// counted in rounds between consecutive rounds the client took part in.
struct ClientParticipationStats {
  uint64_t client_id = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t rounds_participated = 0;        // distinct closed rounds with an accepted update
  uint64_t rounds_since_registration = 0;  // closed rounds since it registered
  double participation_rate = 0;           // rounds_participated / rounds_since_registration
  uint64_t intervals = 0;                  // rounds_participated - 1 (when > 0)
  double mean_interval = 0;
  double stddev_interval = 0;  // population standard deviation
  uint64_t min_interval = 0;
  uint64_t max_interval = 0;
  uint64_t last_round = 0;  // 0: never
  // The weight of its most recent accepted update whose round has closed
  // (the FedAU weight under FedAU strategies); none before the first.
  std::optional<double> last_weight;

  bool operator==(const ClientParticipationStats&) const = default;
};

}  // namespace murmur::server::store
