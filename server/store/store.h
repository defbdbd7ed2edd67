// Store: the coordinator's durable record, as an interface. Two
// implementations pass the same test suite (store_contract_test.cc):
//   SqliteStore    (sqlite_store.h)  SQLite (WAL mode) plus model checkpoint
//                                    files in one directory; production.
//   InMemoryStore  (memory_store.h)  the same contract in memory, for fast
//                                    simulation; "durable" for the life of
//                                    the object (an engine restarted on the
//                                    same object in one process resumes).
//
// Durability contract (what the round engine builds its guarantee on):
//   - Write(batch) is ONE transaction: all of the batch or none of it is
//     visible after a crash, however it dies (kill -9, power loss with
//     synchronous=FULL, the default). A batch that fails (a constraint, a
//     failed file write) changes nothing.
//   - A batch with a round writes and fsyncs the checkpoint file (temp file,
//     fsync, rename, fsync dir) BEFORE the transaction that records it, so a
//     committed checkpoint row always names a complete file. A crash in
//     between leaves an orphan file that the next Recover removes.
//   - Accepted updates whose round has not closed are stored with their
//     payloads (buffered updates); the round commit deletes them in the same
//     transaction that writes the round, its weights, the strategy state and
//     the checkpoint row. A buffered payload's participation carries its
//     XXH3-64 as payload_checksum (or 0: unknown); Recover verifies it.
//     SqliteStore keeps the payloads in segment files beside the database
//     (payload_segments.h), durable before the transaction that names them.
//   - Recover() returns exactly the last committed state: model (bit-exact,
//     checksum-verified), strategy state bytes, job settings, clients,
//     buffer, history ids.
// Missing or corrupt files give an error that names the file.
//
// Threading: the writing methods (IsEmpty, Initialize, Recover, Write,
// ReplaceSettings) must be called from one thread at a time (the engine's
// worker). The query methods may be called from any thread, concurrently
// with the writer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec/tensor.h"
#include "common/status.h"
#include "server/store/store_types.h"

namespace murmur::server::store {

class FileOps;

// How SqliteStore opens its directory.
struct StoreOptions {
  std::string dir;                 // created if missing
  bool create_if_missing = true;   // false: a missing database is NOT_FOUND
  bool synchronous_full = true;    // false: synchronous=NORMAL (survives kill -9, not power loss)
  // Checkpoint retention (checkpoint_retention.h): the newest keep_checkpoints
  // model files (0: all) and every keep_every-th version (0: none) are kept;
  // the rows stay.
  uint32_t keep_checkpoints = 0;
  uint32_t keep_every = 0;
  FileOps* file_ops = nullptr;     // checkpoint file operations; nullptr: the real file system
};

class Store {
 public:
  // Opens (or creates) the SQLite store in options.dir: SqliteStore::Open.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // "SQLite store /path/murmur.db", "in-memory store": for error messages.
  virtual std::string Describe() const = 0;

  // ---- writer side (one thread) ----

  // True when the store holds no committed model yet (a fresh store).
  virtual Result<bool> IsEmpty() = 0;
  // Records version 1 (`model`), the strategy name, an empty strategy state
  // and the job's settings in one transaction. FAILED_PRECONDITION when not
  // empty.
  virtual Status Initialize(const TensorList& model, std::string_view strategy,
                            const JobSettings& settings, double now_s) = 0;
  Status Initialize(const TensorList& model, std::string_view strategy, double now_s) {
    return Initialize(model, strategy, JobSettings{}, now_s);
  }
  // The last committed state. `spec`: the model's expected names and shapes
  // (the checkpoint must match, else FAILED_PRECONDITION); `max_staleness`:
  // accepted updates with a base version >= version - max_staleness are
  // returned as keys (older ones can no longer be accepted, so they cannot
  // be duplicated either). FAILED_PRECONDITION on an empty store.
  virtual Result<RecoveredState> Recover(const ModelSpec& spec, uint64_t max_staleness) = 0;
  // Applies `batch` in one transaction (see the contract above).
  virtual Status Write(const WriteBatch& batch) = 0;
  // Replaces all of the job's settings (keys not in `settings` are removed)
  // in one transaction: the explicit override path. FAILED_PRECONDITION on
  // an empty store.
  virtual Status ReplaceSettings(const JobSettings& settings) = 0;

  // ---- queries (any thread) ----

  virtual Result<uint64_t> LatestVersion() = 0;
  // Model version `version` (0: latest), verified. NOT_FOUND for a version
  // never committed or whose model was pruned (keep_checkpoints, keep_every).
  virtual Result<TensorList> LoadCheckpoint(uint64_t version) = 0;
  // Most recent first; limit 0 means 100.
  virtual Result<std::vector<ParticipationRecord>> ClientHistory(uint64_t client_id,
                                                                 uint32_t limit) = 0;
  // The accepted updates that went into round `version`, in arrival order.
  virtual Result<std::vector<ParticipationRecord>> RoundParticipants(uint64_t version) = 0;
  // Every attempt with id > after_id, ascending; limit 0 means no limit.
  virtual Result<std::vector<ParticipationRecord>> ListParticipations(uint64_t after_id,
                                                                      uint32_t limit) = 0;
  // Rounds with version >= from_version, ascending, with their metrics; limit 0 means 100.
  virtual Result<std::vector<RoundRecord>> ListRounds(uint64_t from_version, uint32_t limit) = 0;
  // Clients with id > after_id, ascending; limit 0 means 100.
  virtual Result<std::vector<ClientRecord>> ListClients(uint64_t after_id, uint32_t limit) = 0;
  // NOT_FOUND for a client never recorded.
  virtual Result<ClientParticipationStats> ParticipationStats(uint64_t client_id) = 0;
  // One entry per recorded client, by client id.
  virtual Result<std::vector<ClientParticipationStats>> AllParticipationStats() = 0;
  // "ok" when the store's own consistency checks pass (SQLite: PRAGMA
  // integrity_check); otherwise what is wrong, "; "-separated.
  virtual Result<std::string> IntegrityCheck() = 0;
};

}  // namespace murmur::server::store
