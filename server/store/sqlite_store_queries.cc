// SqliteStore's read side: the queries the Admin API and the tests need. Each runs
// on the reader connection under reader_mu_, so it never waits for the
// engine's writer (WAL).
#include <fmt/format.h>

#include <map>

#include "server/store/checkpoint_file.h"
#include "server/store/participation_stats.h"
#include "server/store/sqlite_store.h"
#include "server/store/store_rows.h"

namespace murmur::server::store {
namespace {

uint32_t OrDefault(uint32_t limit, uint32_t def) { return limit == 0 ? def : limit; }

Result<std::vector<ParticipationRecord>> ReadParticipations(SqliteStatement& st) {
  std::vector<ParticipationRecord> out;
  while (true) {
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadParticipationRow(st, 0));
  }
  return out;
}

}  // namespace

Result<uint64_t> SqliteStore::LatestVersion() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(int64_t v,
                          reader_.QueryInt64("SELECT coalesce(max(version), 0) FROM checkpoints"));
  return static_cast<uint64_t>(v);
}

Result<TensorList> SqliteStore::LoadCheckpoint(uint64_t version) {
  std::string path;
  uint64_t checksum = 0;
  uint64_t found = 0;
  {
    std::lock_guard<std::mutex> lock(reader_mu_);
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        reader_.Prepare(version == 0
                            ? "SELECT version, path, checksum, retained FROM checkpoints "
                              "ORDER BY version DESC LIMIT 1"
                            : "SELECT version, path, checksum, retained FROM checkpoints "
                              "WHERE version = ?"));
    if (version != 0) st.BindUint64(1, version);
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      return NotFoundError(version == 0
                               ? fmt::format("{} holds no checkpoint", Describe())
                               : fmt::format("{} has no checkpoint of version {}",
                                             Describe(), version));
    }
    found = st.ColumnUint64(0);
    path = options_.dir + "/" + st.ColumnText(1);
    checksum = st.ColumnUint64(2);
    if (st.ColumnInt64(3) == 0) {
      return NotFoundError(fmt::format(
          "the checkpoint of version {} ({}) was pruned ({})", found, path,
          Retention().Describe()));
    }
  }
  return ReadCheckpoint(path, checksum, nullptr, file_ops_);
}

Result<std::vector<ParticipationRecord>> SqliteStore::ClientHistory(uint64_t client_id,
                                                              uint32_t limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare(fmt::format("SELECT {} FROM participations WHERE client_id = ? "
                                  "ORDER BY id DESC LIMIT ?",
                                  kParticipationColumns)));
  st.BindUint64(1, client_id).BindInt64(2, OrDefault(limit, 100));
  return ReadParticipations(st);
}

Result<std::vector<ParticipationRecord>> SqliteStore::RoundParticipants(uint64_t version) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare(fmt::format("SELECT {} FROM participations WHERE round_version = ? AND "
                                  "accepted = 1 ORDER BY id",
                                  kParticipationColumns)));
  st.BindUint64(1, version);
  return ReadParticipations(st);
}

Result<std::vector<ParticipationRecord>> SqliteStore::ListParticipations(uint64_t after_id,
                                                                   uint32_t limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare(fmt::format("SELECT {} FROM participations WHERE id > ? ORDER BY id "
                                  "LIMIT ?",
                                  kParticipationColumns)));
  st.BindUint64(1, after_id).BindInt64(2, limit == 0 ? -1 : static_cast<int64_t>(limit));
  return ReadParticipations(st);
}

Result<std::vector<RoundRecord>> SqliteStore::ListRounds(uint64_t from_version, uint32_t limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<RoundRecord> out;
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        reader_.Prepare("SELECT version, trigger, num_updates, update_norm, mean_client_loss, "
                        "opened_at_s, closed_at_s FROM rounds WHERE version >= ? ORDER BY "
                        "version LIMIT ?"));
    st.BindUint64(1, from_version).BindInt64(2, OrDefault(limit, 100));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RoundRecord r;
      r.version = st.ColumnUint64(0);
      r.trigger = st.ColumnText(1);
      r.num_updates = static_cast<uint32_t>(st.ColumnInt64(2));
      r.update_norm = st.ColumnDouble(3);
      r.mean_client_loss = st.ColumnDouble(4);
      r.opened_at_s = st.ColumnDouble(5);
      r.closed_at_s = st.ColumnDouble(6);
      out.push_back(std::move(r));
    }
  }
  if (out.empty()) return out;
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare("SELECT version, key, value FROM round_metrics WHERE version BETWEEN ? "
                      "AND ? ORDER BY version, key"));
  st.BindUint64(1, out.front().version).BindUint64(2, out.back().version);
  std::map<uint64_t, RoundRecord*> by_version;
  for (RoundRecord& r : out) by_version[r.version] = &r;
  while (true) {
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    auto it = by_version.find(st.ColumnUint64(0));
    if (it != by_version.end()) it->second->metrics[st.ColumnText(1)] = st.ColumnDouble(2);
  }
  return out;
}

Result<std::vector<ClientRecord>> SqliteStore::ListClients(uint64_t after_id, uint32_t limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare(fmt::format("SELECT {} FROM clients WHERE client_id > ? ORDER BY "
                                  "client_id LIMIT ?",
                                  kClientColumns)));
  st.BindUint64(1, after_id).BindInt64(2, OrDefault(limit, 100));
  std::vector<ClientRecord> out;
  while (true) {
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadClientRow(st));
  }
  return out;
}

Result<ClientParticipationStats> SqliteStore::ParticipationStats(uint64_t client_id) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(std::vector<ClientParticipationStats> all, StatsLocked(client_id));
  if (all.empty()) {
    return NotFoundError(fmt::format("{} has no client {}", Describe(), client_id));
  }
  return all.front();
}

Result<std::vector<ClientParticipationStats>> SqliteStore::AllParticipationStats() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  return StatsLocked(std::nullopt);
}

Result<std::vector<ClientParticipationStats>> SqliteStore::StatsLocked(
    std::optional<uint64_t> client_id) {
  MURMUR_ASSIGN_OR_RETURN(int64_t latest,
                          reader_.QueryInt64("SELECT coalesce(max(version), 1) FROM rounds"));
  ParticipationStatsBuilder stats(static_cast<uint64_t>(latest));
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        reader_.Prepare("SELECT client_id, registered_version FROM clients WHERE "
                        "(?1 IS NULL OR client_id = ?1) ORDER BY client_id"));
    st.BindUint64OrNull(1, client_id);
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      stats.AddClient(st.ColumnUint64(0), st.ColumnUint64(1));
    }
  }
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        reader_.Prepare("SELECT client_id, sum(accepted), count(*) - sum(accepted) FROM "
                        "participations WHERE (?1 IS NULL OR client_id = ?1) GROUP BY client_id"));
    st.BindUint64OrNull(1, client_id);
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      stats.AddCounts(st.ColumnUint64(0), st.ColumnUint64(1), st.ColumnUint64(2));
    }
  }
  {
    // SQLite returns the bare column `weight` from the row holding max(id).
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        reader_.Prepare("SELECT client_id, weight, max(id) FROM participations WHERE "
                        "accepted = 1 AND weight IS NOT NULL AND (?1 IS NULL OR client_id = ?1) "
                        "GROUP BY client_id"));
    st.BindUint64OrNull(1, client_id);
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      stats.SetLastWeight(st.ColumnUint64(0), st.ColumnDouble(1));
    }
  }
  // Closed rounds each client took part in, in order: intervals between them.
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement st,
      reader_.Prepare("SELECT DISTINCT p.client_id, p.round_version FROM participations p "
                      "JOIN rounds r ON r.version = p.round_version WHERE p.accepted = 1 AND "
                      "(?1 IS NULL OR p.client_id = ?1) ORDER BY p.client_id, p.round_version"));
  st.BindUint64OrNull(1, client_id);
  while (true) {
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    stats.AddRound(st.ColumnUint64(0), st.ColumnUint64(1));
  }
  return stats.Finish();
}

Result<std::string> SqliteStore::IntegrityCheck() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement st, reader_.Prepare("PRAGMA integrity_check"));
  std::string out;
  while (true) {
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (!out.empty()) out += "; ";
    out += st.ColumnText(0);
  }
  return out;
}

}  // namespace murmur::server::store
