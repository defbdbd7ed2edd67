// InMemoryStore: the Store contract (store.h) kept in memory, for fast
// simulation of thousands of clients. Same results as SqliteStore for the
// same calls (store_contract_test.cc runs one suite against both):
//   - Write validates the whole batch against the same constraints SQLite
//     enforces (unique participation ids, unique client names, buffered
//     payloads of recorded participations, one round and one checkpoint per
//     version, the round's update count) before it applies anything, so a
//     failed batch changes nothing.
//   - Recover returns exactly the last committed state: an engine restarted
//     on the same object in one process resumes where the last one stopped.
//     Nothing survives the object itself.
//   - Model checkpoints are kept as TensorLists (bit-exact copies);
//     retention as in SQLite (checkpoint_retention.h: the newest
//     keep_checkpoints and every keep_every-th); the others are dropped
//     (their rows stay, so loading one is NOT_FOUND "pruned").
//
// Threading: as Store; one mutex guards everything, so the queries may run
// on any thread concurrently with the writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/checkpoint_retention.h"
#include "server/store/store.h"

namespace murmur::server::store {

struct InMemoryStoreOptions {
  uint32_t keep_checkpoints = 0;  // models kept (newest); 0: all
  uint32_t keep_every = 0;        // also every k-th version; 0: none
};

class InMemoryStore final : public Store {
 public:
  static std::unique_ptr<InMemoryStore> Create(InMemoryStoreOptions options = {});

  std::string Describe() const override { return "in-memory store"; }

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
  // Checks the invariants a committed state keeps (rounds, checkpoints,
  // strategy state and buffer agree): "ok", or the violations.
  Result<std::string> IntegrityCheck() override;

 private:
  explicit InMemoryStore(InMemoryStoreOptions options)
      : options_(options),
        retention_{.keep_checkpoints = options.keep_checkpoints,
                   .keep_every = options.keep_every} {}

  struct Checkpoint {
    std::shared_ptr<const TensorList> model;  // null once pruned
    double created_at_s = 0;
  };

  // All of these hold mu_.
  Status ValidateLocked(const WriteBatch& batch) const;
  void ApplyLocked(const WriteBatch& batch);
  std::vector<ClientParticipationStats> StatsLocked(std::optional<uint64_t> client_id) const;
  uint64_t LatestVersionLocked() const;

  const InMemoryStoreOptions options_;
  const CheckpointRetention retention_;
  mutable std::mutex mu_;
  double created_at_s_ = 0;
  std::string strategy_;
  uint64_t strategy_version_ = 0;
  std::string strategy_state_;
  JobSettings settings_;
  std::map<uint64_t, Checkpoint> checkpoints_;
  uint64_t pruned_below_ = 0;  // every version below it already had retention applied
  std::map<uint64_t, ClientRecord> clients_;
  std::map<std::string, uint64_t, std::less<>> client_by_name_;
  std::map<uint64_t, ParticipationRecord> participations_;
  std::map<uint64_t, std::set<uint64_t>> by_client_;          // client -> participation ids
  std::map<uint64_t, std::set<uint64_t>> accepted_by_round_;  // round -> accepted ids
  std::map<uint64_t, std::string> buffered_;                  // participation id -> payload
  std::map<uint64_t, RoundRecord> rounds_;                    // without metrics
  std::map<uint64_t, std::map<std::string, double>> metrics_;
  uint64_t accepted_total_ = 0;
};

}  // namespace murmur::server::store
