#include "server/store/store_rows.h"

#include <fmt/format.h>

namespace murmur::server::store {

std::string RelativeCheckpointPath(uint64_t version) {
  return fmt::format("{}/v{:010}.mrmt", kCheckpointDir, version);
}

const std::string_view kParticipationColumns =
    "id, client_id, base_version, round_version, local_steps, num_samples, mean_loss, staleness, "
    "weight, accepted, reject_reason, message, received_at_s, recorded_at_s, payload_checksum, "
    "local_lr";
const std::string_view kParticipationColumnsP =
    "p.id, p.client_id, p.base_version, p.round_version, p.local_steps, p.num_samples, "
    "p.mean_loss, p.staleness, p.weight, p.accepted, p.reject_reason, p.message, "
    "p.received_at_s, p.recorded_at_s, p.payload_checksum, p.local_lr";
const std::string_view kClientColumns =
    "client_id, name, token_sha256, device, memory_bytes, num_samples, max_local_steps, "
    "registered_at_s, registered_version, left_at_s, last_seen_s, credential_sha256";

ParticipationRecord ReadParticipationRow(const SqliteStatement& st, int c) {
  ParticipationRecord p;
  p.id = st.ColumnUint64(c + 0);
  p.client_id = st.ColumnUint64(c + 1);
  p.base_version = st.ColumnUint64(c + 2);
  p.round_version = st.ColumnUint64(c + 3);
  p.local_steps = static_cast<uint32_t>(st.ColumnInt64(c + 4));
  p.num_samples = st.ColumnUint64(c + 5);
  p.mean_loss = st.ColumnDouble(c + 6);
  p.staleness = st.ColumnUint64(c + 7);
  if (!st.ColumnIsNull(c + 8)) p.weight = st.ColumnDouble(c + 8);
  p.accepted = st.ColumnInt64(c + 9) != 0;
  p.reject_reason = static_cast<int32_t>(st.ColumnInt64(c + 10));
  p.message = st.ColumnText(c + 11);
  p.received_at_s = st.ColumnDouble(c + 12);
  p.recorded_at_s = st.ColumnDouble(c + 13);
  p.payload_checksum = st.ColumnIsNull(c + 14) ? 0 : st.ColumnUint64(c + 14);
  p.local_lr = st.ColumnIsNull(c + 15) ? 0 : st.ColumnDouble(c + 15);
  return p;
}

ClientRecord ReadClientRow(const SqliteStatement& st) {
  ClientRecord c;
  c.client_id = st.ColumnUint64(0);
  c.name = st.ColumnText(1);
  c.token_sha256 = st.ColumnText(2);
  c.device = st.ColumnText(3);
  c.memory_bytes = st.ColumnUint64(4);
  c.num_samples = st.ColumnUint64(5);
  c.max_local_steps = static_cast<uint32_t>(st.ColumnInt64(6));
  c.registered_at_s = st.ColumnDouble(7);
  c.registered_version = st.ColumnUint64(8);
  c.left = !st.ColumnIsNull(9);
  c.left_at_s = c.left ? st.ColumnDouble(9) : 0;
  c.last_seen_s = st.ColumnIsNull(10) ? c.registered_at_s : st.ColumnDouble(10);
  c.credential_sha256 = st.ColumnText(11);
  return c;
}

}  // namespace murmur::server::store
