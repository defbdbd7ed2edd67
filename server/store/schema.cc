#include "server/store/schema.h"

#include <fmt/format.h>

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/token_digest.h"

namespace murmur::server::store {
namespace {

// v4's data step: the plaintext tokens of a v3 database become digests.
Status HashStoredTokens(SqliteDb& db);

// One schema upgrade: its SQL, then (optionally) a data step in C++, both in
// the step's transaction.
struct MigrationStep {
  std::string_view sql;
  Status (*then)(SqliteDb&) = nullptr;
};

// kSteps[i] upgrades version i to version i+1.
constexpr std::array<MigrationStep, kCurrentSchemaVersion> kSteps = {
    // v1
    MigrationStep{R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE clients (
  client_id          INTEGER PRIMARY KEY,
  name               TEXT NOT NULL UNIQUE,
  token              TEXT NOT NULL,
  device             TEXT NOT NULL DEFAULT '',
  memory_bytes       INTEGER NOT NULL DEFAULT 0,
  num_samples        INTEGER NOT NULL DEFAULT 0,
  max_local_steps    INTEGER NOT NULL DEFAULT 0,
  registered_at_s    REAL NOT NULL,
  registered_version INTEGER NOT NULL,
  left_at_s          REAL
);
-- Every participation attempt, accepted or not.
CREATE TABLE participations (
  id             INTEGER PRIMARY KEY,
  client_id      INTEGER NOT NULL,
  base_version   INTEGER NOT NULL,
  round_version  INTEGER NOT NULL,   -- 0 when rejected
  local_steps    INTEGER NOT NULL,
  num_samples    INTEGER NOT NULL,
  mean_loss      REAL NOT NULL,
  staleness      INTEGER NOT NULL,
  weight         REAL,               -- set when the round closes
  accepted       INTEGER NOT NULL,
  reject_reason  INTEGER NOT NULL,
  message        TEXT NOT NULL,
  received_at_s  REAL NOT NULL,
  recorded_at_s  REAL NOT NULL
);
-- Payloads of accepted updates whose round has not closed yet.
CREATE TABLE buffered_updates (
  participation_id INTEGER PRIMARY KEY REFERENCES participations(id),
  payload          BLOB NOT NULL
);
CREATE TABLE rounds (
  version          INTEGER PRIMARY KEY,  -- the version this round produced
  trigger          TEXT NOT NULL,
  num_updates      INTEGER NOT NULL,
  update_norm      REAL NOT NULL,
  mean_client_loss REAL NOT NULL,
  opened_at_s      REAL NOT NULL,
  closed_at_s      REAL NOT NULL
);
CREATE TABLE strategy_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  strategy TEXT NOT NULL,
  version  INTEGER NOT NULL,
  state    BLOB NOT NULL
);
CREATE TABLE checkpoints (
  version      INTEGER PRIMARY KEY,
  path         TEXT NOT NULL,
  bytes        INTEGER NOT NULL,
  checksum     INTEGER NOT NULL,     -- XXH3-64 of the file, bit-cast to int64
  created_at_s REAL NOT NULL
);
)sql"},
    // v2
    MigrationStep{R"sql(
CREATE TABLE round_metrics (
  version INTEGER NOT NULL,
  key     TEXT NOT NULL,
  value   REAL NOT NULL,
  PRIMARY KEY (version, key)
);
CREATE INDEX participations_by_client ON participations (client_id, id);
CREATE INDEX participations_by_round ON participations (round_version, id);
)sql"},
    // v3
    MigrationStep{R"sql(
ALTER TABLE participations ADD COLUMN payload_checksum INTEGER;
ALTER TABLE participations ADD COLUMN local_lr REAL;
ALTER TABLE clients ADD COLUMN last_seen_s REAL;
ALTER TABLE checkpoints ADD COLUMN retained INTEGER NOT NULL DEFAULT 1;
UPDATE clients SET last_seen_s = registered_at_s;
)sql"},
    // v4
    MigrationStep{R"sql(
ALTER TABLE clients RENAME COLUMN token TO token_sha256;
)sql", &HashStoredTokens},
    // v5
    MigrationStep{R"sql(
CREATE TABLE job_settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
    // v6
    MigrationStep{R"sql(
ALTER TABLE clients ADD COLUMN credential_sha256 TEXT NOT NULL DEFAULT '';
)sql"},
    // v7: payloads move to segment files (payload_segments.h); a row with a
    // segment_round names its bytes there and holds an empty payload blob.
    // Rows written before v7 keep their blob.
    MigrationStep{R"sql(
ALTER TABLE buffered_updates ADD COLUMN segment_round INTEGER;
ALTER TABLE buffered_updates ADD COLUMN segment_offset INTEGER;
ALTER TABLE buffered_updates ADD COLUMN payload_bytes INTEGER;
)sql"},
};

Status HashStoredTokens(SqliteDb& db) {
  std::vector<std::pair<int64_t, std::string>> rows;
  {
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.Prepare("SELECT client_id, token_sha256 FROM clients"));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      rows.emplace_back(st.ColumnInt64(0), st.ColumnText(1));
    }
  }
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement up,
                          db.Prepare("UPDATE clients SET token_sha256 = ? WHERE client_id = ?"));
  for (const auto& [id, token] : rows) {
    up.Reset();
    up.BindText(1, TokenDigest(token)).BindInt64(2, id);
    MURMUR_RETURN_IF_ERROR(up.Run());
  }
  return Status();
}

}  // namespace

Result<int> SchemaVersion(SqliteDb& db) {
  MURMUR_ASSIGN_OR_RETURN(int64_t v, db.QueryInt64("PRAGMA user_version"));
  return static_cast<int>(v);
}

Status Migrate(SqliteDb& db, int target) {
  if (target < 0 || target > kCurrentSchemaVersion) {
    return InvalidArgumentError(fmt::format("no schema version {} (this build knows 0..{})",
                                            target, kCurrentSchemaVersion));
  }
  MURMUR_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version > kCurrentSchemaVersion) {
    return FailedPreconditionError(fmt::format(
        "store database {} has schema version {}, newer than this build understands ({}); "
        "use a newer murmur",
        db.path(), version, kCurrentSchemaVersion));
  }
  while (version < target) {
    const int next = version + 1;
    Status s = InTransaction(db, [&]() -> Status {
      const MigrationStep& step = kSteps[version];
      MURMUR_RETURN_IF_ERROR(db.Exec(step.sql));
      if (step.then != nullptr) MURMUR_RETURN_IF_ERROR(step.then(db));
      return db.Exec(fmt::format("PRAGMA user_version = {}", next));
    });
    if (!s.ok()) {
      return s.WithContext(fmt::format("migrating store schema from v{} to v{}", version, next));
    }
    version = next;
  }
  return Status();
}

}  // namespace murmur::server::store
