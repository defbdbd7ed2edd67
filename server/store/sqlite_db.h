// SqliteDb and SqliteStatement: a thin RAII wrapper over the SQLite C API
// that turns every failure into a Status naming the database file and the
// statement. server/store/ is the only place in murmur that sees SQLite, and
// this wrapper's .cc is the only file that includes sqlite3.h.
//
//   SqliteDb db = *SqliteDb::Open("/var/lib/murmur/murmur.db", {});
//   SqliteStatement st = *db.Prepare("SELECT name FROM clients WHERE client_id = ?");
//   st.BindInt64(1, 7);
//   while (*st.Step()) Use(st.ColumnText(0));
//
// Threading: a SqliteDb (a connection) and its statements are not
// synchronized: use each from one thread at a time. Several connections to
// one file may be used from different threads (SQLite's WAL mode lets
// readers run beside one writer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace murmur::server::store {

class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based, as in SQL.
  SqliteStatement& BindInt64(int index, int64_t value);
  SqliteStatement& BindUint64(int index, uint64_t value);  // stored bit-cast as int64
  SqliteStatement& BindDouble(int index, double value);
  SqliteStatement& BindText(int index, std::string_view value);
  SqliteStatement& BindBlob(int index, std::string_view value);
  SqliteStatement& BindNull(int index);
  // The value, or NULL when it is empty.
  SqliteStatement& BindUint64OrNull(int index, std::optional<uint64_t> value);
  SqliteStatement& BindDoubleOrNull(int index, std::optional<double> value);

  // true: a row is available; false: done. Errors name the statement.
  Result<bool> Step();
  // Step() until done; for statements that return no rows.
  Status Run();
  // Ready to run again with new bindings.
  void Reset();

  bool ColumnIsNull(int col) const;
  int64_t ColumnInt64(int col) const;
  uint64_t ColumnUint64(int col) const;  // inverse of BindUint64
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3_stmt* stmt, const std::string* db_path);
  Status Error(int rc) const;

  sqlite3_stmt* stmt_ = nullptr;
  const std::string* db_path_ = nullptr;
  Status bind_error_;
};

struct SqliteOpenOptions {
  bool create_if_missing = true;
  bool read_only = false;
  int busy_timeout_ms = 10000;
};

class SqliteDb {
 public:
  // NOT_FOUND when the file is missing and may not be created; otherwise the
  // SQLite error, prefixed with the path.
  static Result<SqliteDb> Open(const std::string& path, const SqliteOpenOptions& options);

  SqliteDb() = default;
  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  Result<SqliteStatement> Prepare(std::string_view sql);
  // The first column of the first row, for one-value queries (PRAGMAs, COUNT).
  Result<int64_t> QueryInt64(std::string_view sql);
  Result<std::string> QueryText(std::string_view sql);

  const std::string& path() const { return *path_; }
  bool is_open() const { return db_ != nullptr; }

 private:
  Status Error(int rc, std::string_view what) const;

  sqlite3* db_ = nullptr;
  // Heap-allocated so statements can keep a stable pointer across moves.
  std::unique_ptr<std::string> path_ = std::make_unique<std::string>();
};

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when `body` or
// the commit fails. Nothing of a failed transaction is visible afterwards.
template <typename Body>
Status InTransaction(SqliteDb& db, Body&& body) {
  MURMUR_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = body();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

}  // namespace murmur::server::store
