#include "server/store/sqlite_store.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "server/store/checkpoint_file.h"
#include "server/store/schema.h"
#include "server/store/store_rows.h"

namespace murmur::server::store {
namespace {

constexpr std::string_view kDbName = "murmur.db";
constexpr std::string_view kPayloadDir = "payloads";

std::string SpecText(const ModelSpec& spec) {
  std::string s;
  for (const TensorSpec& t : spec) {
    if (!s.empty()) s += "; ";
    s += t.name + ShapeString(t.shape);
  }
  return s;
}

}  // namespace

SqliteStore::SqliteStore(StoreOptions options)
    : options_(std::move(options)),
      file_ops_(OrPosix(options_.file_ops)),
      segments_(options_.dir + "/" + std::string(kPayloadDir), file_ops_) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> s, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(s));
}

std::string SqliteStore::Describe() const { return fmt::format("SQLite store {}", db_path()); }

std::string SqliteStore::db_path() const { return options_.dir + "/" + std::string(kDbName); }

std::string SqliteStore::CheckpointPath(uint64_t version) const {
  return options_.dir + "/" + RelativeCheckpointPath(version);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const StoreOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("the store needs a directory");
  std::unique_ptr<SqliteStore> s(new SqliteStore(options));
  if (options.create_if_missing) {
    MURMUR_RETURN_IF_ERROR(
        MakeDirs(options.dir + "/" + std::string(kCheckpointDir), s->file_ops_));
  }
  MURMUR_RETURN_IF_ERROR(s->OpenConnections());
  // Also for a store made before payload segments existed (schema v7). The
  // parent's fsync makes the directory itself durable before a segment in
  // it is named by a committed row.
  const std::string payload_dir = options.dir + "/" + std::string(kPayloadDir);
  if (!std::filesystem::is_directory(payload_dir)) {
    MURMUR_RETURN_IF_ERROR(MakeDirs(payload_dir, s->file_ops_));
    MURMUR_RETURN_IF_ERROR(s->file_ops_->SyncDir(options.dir));
  }
  return s;
}

Status SqliteStore::OpenConnections() {
  SqliteOpenOptions o{.create_if_missing = options_.create_if_missing};
  MURMUR_ASSIGN_OR_RETURN(writer_, SqliteDb::Open(db_path(), o));
  MURMUR_ASSIGN_OR_RETURN(std::string mode, writer_.QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return FailedPreconditionError(
        fmt::format("{}: could not switch to WAL mode (journal_mode is '{}')", db_path(), mode));
  }
  MURMUR_RETURN_IF_ERROR(writer_.Exec(options_.synchronous_full ? "PRAGMA synchronous = FULL"
                                                                : "PRAGMA synchronous = NORMAL"));
  MURMUR_RETURN_IF_ERROR(writer_.Exec("PRAGMA foreign_keys = ON"));
  MURMUR_RETURN_IF_ERROR(Migrate(writer_));
  MURMUR_ASSIGN_OR_RETURN(reader_, SqliteDb::Open(db_path(), {.create_if_missing = false}));
  return Status();
}

Result<SqliteStatement*> SqliteStore::Writer(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement st, writer_.Prepare(sql));
    it = cache_.emplace(std::string(sql), std::move(st)).first;
  }
  it->second.Reset();
  return &it->second;
}

Result<bool> SqliteStore::IsEmpty() {
  MURMUR_ASSIGN_OR_RETURN(int64_t n, writer_.QueryInt64("SELECT count(*) FROM checkpoints"));
  return n == 0;
}

Result<SqliteStore::CheckpointInfo> SqliteStore::WriteCheckpointFile(uint64_t version,
                                                                    const TensorList& model) {
  MURMUR_ASSIGN_OR_RETURN(EncodedCheckpoint ckpt, EncodeCheckpoint(model));
  const std::string path = CheckpointPath(version);
  Status s = WriteFileAtomically(path, ckpt.bytes, file_ops_);
  if (!s.ok()) {
    return s.WithContext(fmt::format("writing the model checkpoint {} of version {}", path,
                                     version));
  }
  return CheckpointInfo{.bytes = ckpt.bytes.size(), .checksum = ckpt.checksum};
}

Status SqliteStore::Initialize(const TensorList& model, std::string_view strategy,
                               const JobSettings& settings, double now_s) {
  MURMUR_ASSIGN_OR_RETURN(bool empty, IsEmpty());
  if (!empty) {
    return FailedPreconditionError(
        fmt::format("{} already holds a model; it cannot be initialized again", Describe()));
  }
  MURMUR_ASSIGN_OR_RETURN(CheckpointInfo ckpt, WriteCheckpointFile(1, model));
  return InTransaction(writer_, [&]() -> Status {
    MURMUR_RETURN_IF_ERROR(WriteSettingsInTransaction(settings));
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement * meta,
                            Writer("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"created_at_s", fmt::format("{:.17g}", now_s)},
             {"model_spec", SpecText(SpecOf(model))},
             {"strategy", std::string(strategy)}}) {
      meta->Reset();
      MURMUR_RETURN_IF_ERROR(meta->BindText(1, k).BindText(2, v).Run());
    }
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * st,
        Writer("INSERT INTO strategy_state (id, strategy, version, state) VALUES (1, ?, 1, ?)"));
    MURMUR_RETURN_IF_ERROR(st->BindText(1, strategy).BindBlob(2, "").Run());
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * ck,
        Writer("INSERT INTO checkpoints (version, path, bytes, checksum, created_at_s) "
               "VALUES (1, ?, ?, ?, ?)"));
    return ck->BindText(1, RelativeCheckpointPath(1))
        .BindInt64(2, static_cast<int64_t>(ckpt.bytes))
        .BindUint64(3, ckpt.checksum)
        .BindDouble(4, now_s)
        .Run();
  });
}

Result<RecoveredState> SqliteStore::Recover(const ModelSpec& spec, uint64_t max_staleness) {
  MURMUR_ASSIGN_OR_RETURN(bool empty, IsEmpty());
  if (empty) {
    return FailedPreconditionError(
        fmt::format("{} holds no model yet; initialize it first", Describe()));
  }
  RecoveredState out;
  std::string path;
  uint64_t checksum = 0;
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        writer_.Prepare("SELECT version, path, checksum FROM checkpoints ORDER BY version DESC "
                        "LIMIT 1"));
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return DataLossError(fmt::format("{}: no checkpoint row", db_path()));
    out.version = st.ColumnUint64(0);
    path = options_.dir + "/" + st.ColumnText(1);
    checksum = st.ColumnUint64(2);
  }
  MURMUR_ASSIGN_OR_RETURN(out.model, ReadCheckpoint(path, checksum, &spec, file_ops_));
  {
    MURMUR_ASSIGN_OR_RETURN(int64_t last_round,
                            writer_.QueryInt64("SELECT coalesce(max(version), 1) FROM rounds"));
    if (static_cast<uint64_t>(last_round) != out.version) {
      return DataLossError(fmt::format(
          "{}: the last round produced version {} but the last checkpoint is version {}",
          db_path(), last_round, out.version));
    }
  }
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        writer_.Prepare("SELECT strategy, version, state FROM strategy_state WHERE id = 1"));
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return DataLossError(fmt::format("{}: the strategy state row is missing", db_path()));
    out.strategy = st.ColumnText(0);
    if (st.ColumnUint64(1) != out.version) {
      return DataLossError(fmt::format(
          "{}: the strategy state is for version {} but the model is version {}", db_path(),
          st.ColumnUint64(1), out.version));
    }
    out.strategy_state = st.ColumnBlob(2);
  }
  {
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement st,
                            writer_.Prepare("SELECT key, value FROM job_settings ORDER BY key"));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.settings.emplace(st.ColumnText(0), st.ColumnText(1));
    }
  }
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        writer_.Prepare(
            fmt::format("SELECT {} FROM clients ORDER BY client_id", kClientColumns)));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.clients.push_back(ReadClientRow(st));
    }
  }
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        writer_.Prepare(fmt::format(
            "SELECT {}, b.payload, b.segment_round, b.segment_offset, b.payload_bytes FROM "
            "participations p JOIN buffered_updates b ON b.participation_id = p.id ORDER BY p.id",
            kParticipationColumnsP)));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      BufferedUpdate u{ReadParticipationRow(st, 0), {}};
      if (st.ColumnIsNull(17)) {
        u.payload = st.ColumnBlob(16);  // written before schema v7
      } else {
        const PayloadLocation where{st.ColumnUint64(17), st.ColumnUint64(18),
                                    st.ColumnUint64(19)};
        Result<std::string> bytes = segments_.Read(where);
        if (!bytes.ok()) {
          return bytes.status().WithContext(
              fmt::format("{}: reading the payload of buffered update {}", db_path(), u.record.id));
        }
        u.payload = *std::move(bytes);
        if (u.record.payload_checksum != 0 && Xxh3(u.payload) != u.record.payload_checksum) {
          return DataLossError(fmt::format(
              "{}: the payload of buffered update {} ({} bytes at offset {} of {}) does not "
              "match its checksum",
              db_path(), u.record.id, where.length, where.offset, segments_.PathOf(where.round)));
        }
      }
      if (!u.record.accepted || u.record.round_version != out.version + 1) {
        return DataLossError(fmt::format(
            "{}: buffered update {} is for round {} (accepted={}) but the open round is {}",
            db_path(), u.record.id, u.record.round_version, u.record.accepted, out.version + 1));
      }
      out.buffer.push_back(std::move(u));
    }
    SqliteStatement count = *writer_.Prepare(
        "SELECT count(*) FROM participations WHERE accepted = 1 AND round_version = ?");
    count.BindUint64(1, out.version + 1);
    MURMUR_ASSIGN_OR_RETURN(bool row, count.Step());
    if (!row || static_cast<size_t>(count.ColumnInt64(0)) != out.buffer.size()) {
      return DataLossError(fmt::format(
          "{}: {} updates were accepted into the open round {} but {} payloads are buffered",
          db_path(), row ? count.ColumnInt64(0) : 0, out.version + 1, out.buffer.size()));
    }
  }
  {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement st,
        writer_.Prepare("SELECT client_id, base_version, coalesce(payload_checksum, 0), "
                        "round_version FROM participations WHERE accepted = 1 AND "
                        "base_version >= ? ORDER BY id"));
    st.BindUint64(1, out.version > max_staleness ? out.version - max_staleness : 0);
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.recent_accepted.push_back({st.ColumnUint64(0), st.ColumnUint64(1), st.ColumnUint64(2),
                                     st.ColumnUint64(3)});
    }
  }
  MURMUR_ASSIGN_OR_RETURN(int64_t max_id,
                          writer_.QueryInt64("SELECT coalesce(max(id), 0) FROM participations"));
  out.next_participation_id = static_cast<uint64_t>(max_id) + 1;
  MURMUR_ASSIGN_OR_RETURN(int64_t accepted,
                          writer_.QueryInt64("SELECT count(*) FROM participations WHERE accepted = 1"));
  MURMUR_ASSIGN_OR_RETURN(int64_t all, writer_.QueryInt64("SELECT count(*) FROM participations"));
  out.accepted_total = static_cast<uint64_t>(accepted);
  out.rejected_total = static_cast<uint64_t>(all - accepted);
  {
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement st,
                            writer_.Prepare("SELECT closed_at_s FROM rounds WHERE version = ?"));
    st.BindUint64(1, out.version);
    MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) {
      out.round_opened_at_s = st.ColumnDouble(0);
    } else {
      MURMUR_ASSIGN_OR_RETURN(std::string created,
                              writer_.QueryText("SELECT value FROM meta WHERE key = 'created_at_s'"));
      out.round_opened_at_s = std::strtod(created.c_str(), nullptr);
    }
  }
  MURMUR_RETURN_IF_ERROR(RemoveOrphanCheckpoints());
  segments_.RemoveThrough(out.version);  // closed rounds' segments left by a crash
  return out;
}

Status SqliteStore::RemoveOrphanCheckpoints() {
  std::set<std::string> keep;
  {
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement st,
                            writer_.Prepare("SELECT path FROM checkpoints WHERE retained = 1"));
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      keep.insert(std::filesystem::path(st.ColumnText(0)).filename().string());
    }
  }
  std::error_code ec;
  const std::string dir = options_.dir + "/" + std::string(kCheckpointDir);
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name.size() > 6 && name[0] == 'v' &&
                      (name.ends_with(".mrmt") || name.ends_with(".mrmt.tmp"));
    // Best effort: a file that cannot be removed now is swept next time.
    if (ours && !keep.contains(name)) (void)file_ops_->Remove(entry.path().string());
  }
  return Status();
}

Status SqliteStore::WriteSettingsInTransaction(const JobSettings& settings) {
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement * clear, Writer("DELETE FROM job_settings"));
  MURMUR_RETURN_IF_ERROR(clear->Run());
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement * st,
                          Writer("INSERT INTO job_settings (key, value) VALUES (?, ?)"));
  for (const auto& [key, value] : settings) {
    st->Reset();
    MURMUR_RETURN_IF_ERROR(st->BindText(1, key).BindText(2, value).Run());
  }
  return Status();
}

Status SqliteStore::ReplaceSettings(const JobSettings& settings) {
  MURMUR_ASSIGN_OR_RETURN(bool empty, IsEmpty());
  if (empty) {
    return FailedPreconditionError(fmt::format(
        "{} holds no model yet; its job settings are saved by Initialize", Describe()));
  }
  return InTransaction(writer_, [&]() { return WriteSettingsInTransaction(settings); });
}

Status SqliteStore::Write(const WriteBatch& batch) {
  if (batch.empty()) return Status();
  CheckpointInfo checkpoint;
  if (batch.round.has_value()) {
    const RoundCommit& r = *batch.round;
    if (r.model == nullptr) return InvalidArgumentError("a round commit needs its model");
    // The file write below would replace a committed checkpoint's file.
    MURMUR_ASSIGN_OR_RETURN(SqliteStatement * exists,
                            Writer("SELECT count(*) FROM checkpoints WHERE version = ?"));
    exists->BindUint64(1, r.round.version);
    MURMUR_ASSIGN_OR_RETURN(bool row, exists->Step());
    const bool taken = row && exists->ColumnInt64(0) > 0;
    exists->Reset();
    if (taken) {
      return FailedPreconditionError(fmt::format("{}: a checkpoint of version {} is already recorded",
                                                 Describe(), r.round.version));
    }
    MURMUR_ASSIGN_OR_RETURN(checkpoint, WriteCheckpointFile(r.round.version, *r.model));
  }
  // The payloads are durable in their segment before the transaction that
  // names them.
  MURMUR_ASSIGN_OR_RETURN(std::vector<PayloadLocation> payloads, AppendPayloads(batch));
  std::vector<uint64_t> pruned;
  MURMUR_RETURN_IF_ERROR(InTransaction(
      writer_, [&]() { return WriteInTransaction(batch, checkpoint, payloads, &pruned); }));
  // Committed: the rows already say these files are gone; removing them is
  // best effort (the next Open sweeps leftovers).
  for (uint64_t v : pruned) (void)file_ops_->Remove(CheckpointPath(v));
  if (batch.round.has_value()) segments_.RemoveThrough(batch.round->round.version);
  return Status();
}

Result<std::vector<PayloadLocation>> SqliteStore::AppendPayloads(const WriteBatch& batch) {
  if (batch.buffered_payloads.empty()) return std::vector<PayloadLocation>{};
  std::map<uint64_t, uint64_t> round_of;  // participation id -> round it was accepted into
  for (const ParticipationRecord& p : batch.participations) {
    if (p.accepted) round_of[p.id] = p.round_version;
  }
  // A payload whose round this batch commits is never read again (the
  // commit drops its round's buffer in the same transaction): not written.
  const uint64_t closing = batch.round.has_value() ? batch.round->round.version : 0;
  std::vector<std::pair<uint64_t, std::string_view>> items;
  std::vector<size_t> index;  // batch.buffered_payloads index of items[i]
  for (size_t i = 0; i < batch.buffered_payloads.size(); ++i) {
    const auto& [id, payload] = batch.buffered_payloads[i];
    auto it = round_of.find(id);
    if (it == round_of.end()) {
      return InvalidArgumentError(fmt::format(
          "buffered payload {} has no accepted participation in the same batch", id));
    }
    if (it->second == closing) continue;
    items.emplace_back(it->second, payload);
    index.push_back(i);
  }
  std::vector<PayloadLocation> out(batch.buffered_payloads.size());  // round 0: not stored
  if (items.empty()) return out;
  MURMUR_ASSIGN_OR_RETURN(std::vector<PayloadLocation> stored, segments_.Append(items));
  for (size_t i = 0; i < stored.size(); ++i) out[index[i]] = stored[i];
  return out;
}

Status SqliteStore::WriteInTransaction(const WriteBatch& batch, const CheckpointInfo& checkpoint,
                                       const std::vector<PayloadLocation>& payloads,
                                       std::vector<uint64_t>* pruned) {
  if (!batch.clients.empty()) {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * st,
        Writer(fmt::format(
            "INSERT INTO clients ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, "
            "token_sha256 = excluded.token_sha256, device = excluded.device, "
            "memory_bytes = excluded.memory_bytes, num_samples = excluded.num_samples, "
            "max_local_steps = excluded.max_local_steps, "
            "left_at_s = excluded.left_at_s, last_seen_s = excluded.last_seen_s, "
            "credential_sha256 = excluded.credential_sha256",
            kClientColumns)));
    for (const ClientRecord& c : batch.clients) {
      st->Reset();
      st->BindUint64(1, c.client_id)
          .BindText(2, c.name)
          .BindText(3, c.token_sha256)
          .BindText(4, c.device)
          .BindUint64(5, c.memory_bytes)
          .BindUint64(6, c.num_samples)
          .BindInt64(7, c.max_local_steps)
          .BindDouble(8, c.registered_at_s)
          .BindUint64(9, c.registered_version)
          .BindDoubleOrNull(10, c.left ? std::optional<double>(c.left_at_s) : std::nullopt)
          .BindDouble(11, c.last_seen_s)
          .BindText(12, c.credential_sha256);
      MURMUR_RETURN_IF_ERROR(st->Run());
    }
  }
  if (!batch.participations.empty()) {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * st,
        Writer(fmt::format("INSERT INTO participations ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?, ?, ?, ?, ?, ?)",
                           kParticipationColumns)));
    for (const ParticipationRecord& p : batch.participations) {
      st->Reset();
      st->BindUint64(1, p.id)
          .BindUint64(2, p.client_id)
          .BindUint64(3, p.base_version)
          .BindUint64(4, p.round_version)
          .BindInt64(5, p.local_steps)
          .BindUint64(6, p.num_samples)
          .BindDouble(7, p.mean_loss)
          .BindUint64(8, p.staleness)
          .BindInt64(10, p.accepted ? 1 : 0)
          .BindInt64(11, p.reject_reason)
          .BindText(12, p.message)
          .BindDouble(13, p.received_at_s)
          .BindDouble(14, p.recorded_at_s)
          .BindUint64(15, p.payload_checksum)
          .BindDouble(16, p.local_lr)
          .BindDoubleOrNull(9, p.weight);
      MURMUR_RETURN_IF_ERROR(st->Run());
    }
  }
  if (!batch.buffered_payloads.empty()) {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * st,
        Writer("INSERT INTO buffered_updates (participation_id, payload, segment_round, "
               "segment_offset, payload_bytes) VALUES (?, X'', ?, ?, ?)"));
    for (size_t i = 0; i < batch.buffered_payloads.size(); ++i) {
      const PayloadLocation& where = payloads[i];
      if (where.round == 0) continue;  // its round closes in this batch
      st->Reset();
      MURMUR_RETURN_IF_ERROR(st->BindUint64(1, batch.buffered_payloads[i].first)
                                 .BindUint64(2, where.round)
                                 .BindUint64(3, where.offset)
                                 .BindUint64(4, where.length)
                                 .Run());
    }
  }
  if (!batch.metrics.empty()) {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * st,
        Writer("INSERT OR REPLACE INTO round_metrics (version, key, value) VALUES (?, ?, ?)"));
    for (const auto& [version, metrics] : batch.metrics) {
      for (const auto& [key, value] : metrics) {
        st->Reset();
        MURMUR_RETURN_IF_ERROR(st->BindUint64(1, version).BindText(2, key).BindDouble(3, value).Run());
      }
    }
  }
  if (!batch.round.has_value()) return Status();

  const RoundCommit& rc = *batch.round;
  const RoundRecord& r = rc.round;
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * round_st,
      Writer("INSERT INTO rounds (version, trigger, num_updates, update_norm, mean_client_loss, "
             "opened_at_s, closed_at_s) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  MURMUR_RETURN_IF_ERROR(round_st->BindUint64(1, r.version)
                             .BindText(2, r.trigger)
                             .BindInt64(3, r.num_updates)
                             .BindDouble(4, r.update_norm)
                             .BindDouble(5, r.mean_client_loss)
                             .BindDouble(6, r.opened_at_s)
                             .BindDouble(7, r.closed_at_s)
                             .Run());
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * weight_st,
      Writer("UPDATE participations SET weight = ? WHERE id = ? AND round_version = ? AND "
             "accepted = 1"));
  for (const auto& [id, w] : rc.weights) {
    weight_st->Reset();
    MURMUR_RETURN_IF_ERROR(
        weight_st->BindDouble(1, w).BindUint64(2, id).BindUint64(3, r.version).Run());
  }
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * count_st,
      Writer("SELECT count(*) FROM participations WHERE round_version = ? AND accepted = 1"));
  count_st->BindUint64(1, r.version);
  MURMUR_ASSIGN_OR_RETURN(bool has_row, count_st->Step());
  const int64_t recorded = has_row ? count_st->ColumnInt64(0) : -1;
  count_st->Reset();
  if (recorded != r.num_updates || rc.weights.size() != r.num_updates) {
    return InternalError(fmt::format(
        "round {} closes with {} updates but {} accepted participations and {} weights are "
        "recorded for it",
        r.version, r.num_updates, recorded, rc.weights.size()));
  }
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * drop_st,
      Writer("DELETE FROM buffered_updates WHERE participation_id IN (SELECT id FROM "
             "participations WHERE round_version = ?)"));
  MURMUR_RETURN_IF_ERROR(drop_st->BindUint64(1, r.version).Run());
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * state_st,
      Writer("INSERT OR REPLACE INTO strategy_state (id, strategy, version, state) "
             "VALUES (1, ?, ?, ?)"));
  MURMUR_RETURN_IF_ERROR(state_st->BindText(1, rc.strategy)
                             .BindUint64(2, r.version)
                             .BindBlob(3, rc.strategy_state)
                             .Run());
  // The file was written and fsynced before this transaction began.
  MURMUR_ASSIGN_OR_RETURN(
      SqliteStatement * ck_st,
      Writer("INSERT INTO checkpoints (version, path, bytes, checksum, created_at_s) "
             "VALUES (?, ?, ?, ?, ?)"));
  MURMUR_RETURN_IF_ERROR(ck_st->BindUint64(1, r.version)
                             .BindText(2, RelativeCheckpointPath(r.version))
                             .BindUint64(3, checkpoint.bytes)
                             .BindUint64(4, checkpoint.checksum)
                             .BindDouble(5, r.closed_at_s)
                             .Run());
  const CheckpointRetention retention = Retention();
  const uint64_t oldest_kept = retention.OldestNewestKept(r.version);
  if (oldest_kept > 0) {
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * old_st,
        Writer("SELECT version FROM checkpoints WHERE retained = 1 AND version < ?"));
    old_st->BindUint64(1, oldest_kept);
    std::vector<uint64_t> candidates;
    while (true) {
      MURMUR_ASSIGN_OR_RETURN(bool row, old_st->Step());
      if (!row) break;
      candidates.push_back(old_st->ColumnUint64(0));
    }
    old_st->Reset();
    MURMUR_ASSIGN_OR_RETURN(
        SqliteStatement * prune_st,
        Writer("UPDATE checkpoints SET retained = 0 WHERE version = ?"));
    for (uint64_t v : candidates) {
      if (retention.Keeps(v, r.version)) continue;
      Status pruned_ok = prune_st->BindUint64(1, v).Run();
      prune_st->Reset();
      MURMUR_RETURN_IF_ERROR(pruned_ok);
      pruned->push_back(v);
    }
  }
  return Status();
}

}  // namespace murmur::server::store
