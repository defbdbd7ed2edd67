// Test-only helpers shared by the store tests: small models, records and
// batches, and a bit-exact model comparison.
//
// Pure functions; no shared state.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "server/store/store_types.h"

namespace murmur::server::store::testing {

inline const ModelSpec kSpec = {{"w", {3}}, {"b", {1}}};

inline TensorList Model(float base) {
  return {{"w", {3}, {base, base + 0.5f, -base}}, {"b", {1}, {base * 3}}};
}

inline bool SameBits(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape ||
        a[i].data.size() != b[i].data.size()) {
      return false;
    }
    if (std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

inline ClientRecord Client(uint64_t id, double t = 1.0) {
  ClientRecord c;
  c.client_id = id;
  c.name = "client-" + std::to_string(id);
  c.token_sha256 = "digest" + std::to_string(id);
  c.device = "cpu";
  c.registered_at_s = t;
  c.registered_version = 1;
  c.last_seen_s = t;
  return c;
}

inline ParticipationRecord Accepted(uint64_t id, uint64_t client, uint64_t round,
                                    uint64_t base = 0) {
  ParticipationRecord p;
  p.id = id;
  p.client_id = client;
  p.base_version = base == 0 ? round - 1 : base;
  p.round_version = round;
  p.local_steps = 3;
  p.num_samples = 10;
  p.mean_loss = 0.5;
  p.staleness = round - 1 - p.base_version;
  p.accepted = true;
  p.message = "buffered";
  p.received_at_s = 2.0;
  p.recorded_at_s = 2.5;
  p.payload_checksum = 1000 + id;
  p.local_lr = 0.1;
  return p;
}

inline ParticipationRecord Rejected(uint64_t id, uint64_t client, int32_t reason) {
  ParticipationRecord p;
  p.id = id;
  p.client_id = client;
  p.base_version = 1;
  p.local_steps = 3;
  p.reject_reason = reason;
  p.message = "too stale: the limit is 0";
  return p;
}

// The payload BufferUpdates gives participation `id`, and its checksum.
inline std::string PayloadOf(uint64_t id) { return *EncodeTensors(Model(static_cast<float>(id))); }
inline uint64_t PayloadChecksum(uint64_t id) { return Xxh3(PayloadOf(id)); }

// Accepted updates `first_id`, `first_id`+1, ... of `clients` into round
// `round`, with their payloads.
inline WriteBatch BufferUpdates(uint64_t first_id, uint64_t round,
                                const std::vector<uint64_t>& clients) {
  WriteBatch b;
  for (size_t i = 0; i < clients.size(); ++i) {
    ParticipationRecord p = Accepted(first_id + i, clients[i], round);
    std::string payload = PayloadOf(p.id);
    p.payload_checksum = Xxh3(payload);  // what the engine records (store_types.h)
    b.participations.push_back(p);
    b.buffered_payloads.emplace_back(p.id, std::move(payload));
  }
  return b;
}

// A round commit of `version` producing `*model`, weighting `ids` equally.
inline RoundCommit Round(uint64_t version, const TensorList* model,
                         const std::vector<uint64_t>& ids, std::string strategy = "fedau") {
  RoundCommit rc;
  rc.round = {.version = version,
              .trigger = "deadline",
              .num_updates = static_cast<uint32_t>(ids.size()),
              .update_norm = 0.25 * static_cast<double>(version),
              .mean_client_loss = 0.5,
              .opened_at_s = static_cast<double>(version) - 1,
              .closed_at_s = static_cast<double>(version)};
  for (uint64_t id : ids) rc.weights.emplace_back(id, 1.0 / static_cast<double>(ids.size()));
  rc.model = model;
  rc.strategy = std::move(strategy);
  rc.strategy_state = "state-" + std::to_string(version);
  return rc;
}

}  // namespace murmur::server::store::testing
