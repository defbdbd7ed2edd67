// Store: the coordinator's durable record, SQLite (WAL mode) plus model
// checkpoint files, in one directory:
//   <dir>/murmur.db                     clients, every participation attempt,
//                                       rounds + metrics, strategy state,
//                                       checkpoint rows, buffered payloads
//   <dir>/checkpoints/v0000000042.mrmt  model version 42 (fp32 codec file)
//
// Durability contract (what the round engine builds its guarantee on):
//   - Write(batch) is ONE transaction: all of the batch or none of it is
//     visible after a crash, however it dies (kill -9, power loss with
//     synchronous=FULL, the default).
//   - A batch with a round writes and fsyncs the checkpoint file (temp file,
//     fsync, rename, fsync dir) BEFORE the transaction that records it, so a
//     committed checkpoint row always names a complete file. A crash in
//     between leaves an orphan file that the next Open removes.
//   - Accepted updates whose round has not closed are stored with their
//     payloads (buffered_updates); the round commit deletes them in the same
//     transaction that writes the round, its weights, the strategy state and
//     the checkpoint row.
//   - Recover() returns exactly the last committed state: model (bit-exact,
//     checksum-verified), strategy state bytes, clients, buffer, history ids.
// Missing or corrupt files give an error that names the file.
//
// Threading: the writing methods (Initialize, Recover, Write) must be called
// from one thread at a time (the engine's worker). The query methods may be
// called from any thread, concurrently with the writer: they use their own
// connection behind their own mutex, and WAL lets them read while a write is
// in progress.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec/tensor.h"
#include "common/status.h"
#include "server/store/sqlite_db.h"
#include "server/store/store_types.h"

namespace murmur::server::store {

struct StoreOptions {
  std::string dir;                 // created if missing
  bool create_if_missing = true;   // false: a missing database is NOT_FOUND
  bool synchronous_full = true;    // false: synchronous=NORMAL (survives kill -9, not power loss)
  uint32_t keep_checkpoints = 0;   // model files kept (newest); 0: all. The rows stay.
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  const std::string& dir() const { return options_.dir; }
  std::string db_path() const;
  std::string CheckpointPath(uint64_t version) const;

  // ---- writer side (one thread) ----

  // True when the store holds no committed model yet (a fresh directory).
  Result<bool> IsEmpty();
  // Records version 1 (`model`), the strategy name and an empty strategy
  // state in one transaction. FAILED_PRECONDITION when not empty.
  Status Initialize(const TensorList& model, std::string_view strategy, double now_s);
  // The last committed state. `spec`: the model's expected names and shapes
  // (the checkpoint must match); `max_staleness`: accepted updates with a
  // base version >= version - max_staleness are returned as keys (older ones
  // can no longer be accepted, so they cannot be duplicated either).
  Result<RecoveredState> Recover(const ModelSpec& spec, uint64_t max_staleness);
  // Applies `batch` in one transaction (see the contract above).
  Status Write(const WriteBatch& batch);

  // ---- queries (any thread) ----

  Result<uint64_t> LatestVersion();
  // Model version `version` (0: latest), verified against its checksum.
  Result<TensorList> LoadCheckpoint(uint64_t version);
  // Most recent first; limit 0 means 100.
  Result<std::vector<ParticipationRecord>> ClientHistory(uint64_t client_id, uint32_t limit);
  // The accepted updates that went into round `version`, in arrival order.
  Result<std::vector<ParticipationRecord>> RoundParticipants(uint64_t version);
  // Every attempt with id > after_id, ascending; limit 0 means no limit.
  Result<std::vector<ParticipationRecord>> ListParticipations(uint64_t after_id, uint32_t limit);
  // Rounds with version >= from_version, ascending, with their metrics; limit 0 means 100.
  Result<std::vector<RoundRecord>> ListRounds(uint64_t from_version, uint32_t limit);
  // Clients with id > after_id, ascending; limit 0 means 100.
  Result<std::vector<ClientRecord>> ListClients(uint64_t after_id, uint32_t limit);
  Result<ClientParticipationStats> ParticipationStats(uint64_t client_id);
  Result<std::vector<ClientParticipationStats>> AllParticipationStats();
  // PRAGMA integrity_check: "ok" when sound.
  Result<std::string> IntegrityCheck();

 private:
  explicit Store(StoreOptions options);
  Status OpenConnections();
  Result<SqliteStatement*> Writer(std::string_view sql);  // cached statements
  struct CheckpointInfo {
    uint64_t bytes = 0;
    uint64_t checksum = 0;
  };
  Status WriteInTransaction(const WriteBatch& batch, const CheckpointInfo& checkpoint,
                            std::vector<uint64_t>* pruned);
  Status RemoveOrphanCheckpoints();
  Result<std::vector<ClientParticipationStats>> StatsLocked(std::optional<uint64_t> client_id);

  StoreOptions options_;
  SqliteDb writer_;
  std::map<std::string, SqliteStatement, std::less<>> cache_;

  std::mutex reader_mu_;
  SqliteDb reader_;  // guarded by reader_mu_
};

}  // namespace murmur::server::store
