// The store's SQL schema and its migrations.
//
// The schema version lives in SQLite's PRAGMA user_version. Migration i
// turns a version-(i-1) database into version i; a new database runs them
// all from 0. Each step runs in its own transaction together with the
// user_version bump, so an interrupted upgrade leaves the database at the
// last completed version and the next open resumes it. Steps are append-only:
// never edit a released step, add a new one.
//
//   v1  meta, clients, participations, buffered_updates, rounds,
//       strategy_state, checkpoints
//   v2  round_metrics (key/value evaluation metrics per round); indexes for
//       the Admin queries (a client's history, a round's participants)
//   v3  participations.payload_checksum and .local_lr (exactly-once across
//       restarts; buffered AFA updates keep their eta_L), clients.last_seen_s,
//       checkpoints.retained (old checkpoint files may be pruned)
//   v4  clients.token becomes clients.token_sha256: session tokens are kept
//       only as their SHA-256 (common/token_digest.h); existing rows are
//       hashed in the same transaction
//   v5  job_settings (key/value: the job's settings saved with its state);
//       an upgraded store has none
//   v6  clients.credential_sha256: the SHA-256 of the credential a client's
//       name is bound to (enrollment secret or mTLS subject); existing rows
//       get '' (unbound: their next registration with a credential binds it)
//
// Pure functions over a connection; the caller serializes use of `db`.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "server/store/sqlite_db.h"

namespace murmur::server::store {

inline constexpr int kCurrentSchemaVersion = 7;

// PRAGMA user_version.
Result<int> SchemaVersion(SqliteDb& db);

// Upgrades `db` to `target` (default: current), one transaction per step.
// FAILED_PRECONDITION when the database is newer than this build knows.
Status Migrate(SqliteDb& db, int target = kCurrentSchemaVersion);

}  // namespace murmur::server::store
