// SqliteStore: the Store (store.h) on SQLite (WAL mode) plus model
// checkpoint files, in one directory:
//   <dir>/murmur.db                     clients, every participation attempt,
//                                       rounds + metrics, strategy state, job
//                                       settings, checkpoint rows, buffered
//                                       payloads
//   <dir>/checkpoints/v0000000042.mrmt  model version 42 (fp32 codec file)
// The durability contract is Store's. Checkpoint files go through the
// StoreOptions' FileOps (file_ops.h): temp file, fsync, rename, fsync dir.
// Recover sweeps checkpoint files no committed row names (orphans of a
// crash between the file write and the commit).
//
// Threading: as Store. The query methods use their own connection behind
// their own mutex, and WAL lets them read while a write is in progress.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/checkpoint_retention.h"
#include "server/store/file_ops.h"
#include "server/store/payload_segments.h"
#include "server/store/sqlite_db.h"
#include "server/store/store.h"

namespace murmur::server::store {

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const StoreOptions& options);
  ~SqliteStore() override;

  const std::string& dir() const { return options_.dir; }
  std::string db_path() const;
  std::string CheckpointPath(uint64_t version) const;
  std::string Describe() const override;

  using Store::Initialize;
  Result<bool> IsEmpty() override;
  Status Initialize(const TensorList& model, std::string_view strategy,
                    const JobSettings& settings, double now_s) override;
  Result<RecoveredState> Recover(const ModelSpec& spec, uint64_t max_staleness) override;
  Status Write(const WriteBatch& batch) override;
  Status ReplaceSettings(const JobSettings& settings) override;

  Result<uint64_t> LatestVersion() override;
  Result<TensorList> LoadCheckpoint(uint64_t version) override;
  Result<std::vector<ParticipationRecord>> ClientHistory(uint64_t client_id,
                                                         uint32_t limit) override;
  Result<std::vector<ParticipationRecord>> RoundParticipants(uint64_t version) override;
  Result<std::vector<ParticipationRecord>> ListParticipations(uint64_t after_id,
                                                              uint32_t limit) override;
  Result<std::vector<RoundRecord>> ListRounds(uint64_t from_version, uint32_t limit) override;
  Result<std::vector<ClientRecord>> ListClients(uint64_t after_id, uint32_t limit) override;
  Result<ClientParticipationStats> ParticipationStats(uint64_t client_id) override;
  Result<std::vector<ClientParticipationStats>> AllParticipationStats() override;
  // PRAGMA integrity_check: "ok" when sound.
  Result<std::string> IntegrityCheck() override;

 private:
  explicit SqliteStore(StoreOptions options);
  CheckpointRetention Retention() const {
    return {.keep_checkpoints = options_.keep_checkpoints, .keep_every = options_.keep_every};
  }
  Status OpenConnections();
  Result<SqliteStatement*> Writer(std::string_view sql);  // cached statements
  struct CheckpointInfo {
    uint64_t bytes = 0;
    uint64_t checksum = 0;
  };
  // Writes the checkpoint file of `version`; errors name the file.
  Result<CheckpointInfo> WriteCheckpointFile(uint64_t version, const TensorList& model);
  Status WriteInTransaction(const WriteBatch& batch, const CheckpointInfo& checkpoint,
                            const std::vector<PayloadLocation>& payloads,
                            std::vector<uint64_t>* pruned);
  Status WriteSettingsInTransaction(const JobSettings& settings);
  Status RemoveOrphanCheckpoints();
  Result<std::vector<PayloadLocation>> AppendPayloads(const WriteBatch& batch);
  Result<std::vector<ClientParticipationStats>> StatsLocked(std::optional<uint64_t> client_id);

  StoreOptions options_;
  FileOps* const file_ops_;
  PayloadSegments segments_;  // buffered payloads, beside the database
  SqliteDb writer_;
  std::map<std::string, SqliteStatement, std::less<>> cache_;

  std::mutex reader_mu_;
  SqliteDb reader_;  // guarded by reader_mu_
};

}  // namespace murmur::server::store
