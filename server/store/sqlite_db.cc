#include "server/store/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <cstring>

namespace murmur::server::store {
namespace {

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return StatusCode::kDataLoss;
    case SQLITE_FULL: return StatusCode::kResourceExhausted;
    case SQLITE_CANTOPEN: return StatusCode::kNotFound;
    case SQLITE_CONSTRAINT: return StatusCode::kFailedPrecondition;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH: return StatusCode::kPermissionDenied;
    default: return StatusCode::kInternal;
  }
}

std::string Abbrev(std::string_view sql) {
  std::string s(sql.substr(0, 80));
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (sql.size() > 80) s += "...";
  return s;
}

}  // namespace

// ---- SqliteStatement ----

SqliteStatement::SqliteStatement(sqlite3_stmt* stmt, const std::string* db_path)
    : stmt_(stmt), db_path_(db_path) {}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(other.stmt_), db_path_(other.db_path_), bind_error_(std::move(other.bind_error_)) {
  other.stmt_ = nullptr;
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    db_path_ = other.db_path_;
    bind_error_ = std::move(other.bind_error_);
    other.stmt_ = nullptr;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Status SqliteStatement::Error(int rc) const {
  sqlite3* db = sqlite3_db_handle(stmt_);
  return Status(CodeFor(rc), fmt::format("{}: {} (in \"{}\")", *db_path_, sqlite3_errmsg(db),
                                         Abbrev(sqlite3_sql(stmt_))));
}

#define MURMUR_SQLITE_BIND(call)                        \
  do {                                                  \
    int rc_ = (call);                                   \
    if (rc_ != SQLITE_OK && bind_error_.ok()) bind_error_ = Error(rc_); \
  } while (0)

SqliteStatement& SqliteStatement::BindInt64(int index, int64_t value) {
  MURMUR_SQLITE_BIND(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}
SqliteStatement& SqliteStatement::BindUint64(int index, uint64_t value) {
  return BindInt64(index, std::bit_cast<int64_t>(value));
}
SqliteStatement& SqliteStatement::BindDouble(int index, double value) {
  MURMUR_SQLITE_BIND(sqlite3_bind_double(stmt_, index, value));
  return *this;
}
SqliteStatement& SqliteStatement::BindText(int index, std::string_view value) {
  MURMUR_SQLITE_BIND(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                                         SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}
SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view value) {
  // A zero-length blob must still be a blob, not NULL.
  static const char kEmpty = 0;
  MURMUR_SQLITE_BIND(sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(),
                                         value.size(), SQLITE_TRANSIENT));
  return *this;
}
SqliteStatement& SqliteStatement::BindNull(int index) {
  MURMUR_SQLITE_BIND(sqlite3_bind_null(stmt_, index));
  return *this;
}
#undef MURMUR_SQLITE_BIND

SqliteStatement& SqliteStatement::BindUint64OrNull(int index, std::optional<uint64_t> value) {
  return value ? BindUint64(index, *value) : BindNull(index);
}

SqliteStatement& SqliteStatement::BindDoubleOrNull(int index, std::optional<double> value) {
  return value ? BindDouble(index, *value) : BindNull(index);
}

Result<bool> SqliteStatement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = Error(rc);
  sqlite3_reset(stmt_);
  return s;
}

Status SqliteStatement::Run() {
  while (true) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status();
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status();
}

bool SqliteStatement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
int64_t SqliteStatement::ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }
uint64_t SqliteStatement::ColumnUint64(int col) const {
  return std::bit_cast<uint64_t>(ColumnInt64(col));
}
double SqliteStatement::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }
std::string SqliteStatement::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}
std::string SqliteStatement::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- SqliteDb ----

Result<SqliteDb> SqliteDb::Open(const std::string& path, const SqliteOpenOptions& options) {
  if (!options.create_if_missing || options.read_only) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return NotFoundError(fmt::format("store database {} does not exist ({})", path,
                                       std::strerror(errno)));
    }
  }
  SqliteDb db;
  *db.path_ = path;
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create_if_missing && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s(CodeFor(rc), fmt::format("cannot open store database {}: {}", path,
                                      db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc)));
    return s;
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, options.busy_timeout_ms);
  // Touch the file so a non-database file fails here, naming the path.
  Result<int64_t> probe = db.QueryInt64("SELECT count(*) FROM sqlite_schema");
  if (!probe.ok()) {
    return Status(probe.status().code(),
                  fmt::format("{} is not a usable murmur store database: {}", path,
                              probe.status().message()));
  }
  return db;
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) {
  other.db_ = nullptr;
  other.path_ = std::make_unique<std::string>();
}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
    other.path_ = std::make_unique<std::string>();
  }
  return *this;
}

SqliteDb::~SqliteDb() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status SqliteDb::Error(int rc, std::string_view what) const {
  return Status(CodeFor(rc),
                fmt::format("{}: {} (in \"{}\")", *path_, sqlite3_errmsg(db_), Abbrev(what)));
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status(CodeFor(rc), fmt::format("{}: {} (in \"{}\")", *path_, msg, Abbrev(sql)));
  }
  return Status();
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  return SqliteStatement(stmt, path_.get());
}

Result<int64_t> SqliteDb::QueryInt64(std::string_view sql) {
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement st, Prepare(sql));
  MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFoundError(fmt::format("{}: no row from \"{}\"", *path_, Abbrev(sql)));
  return st.ColumnInt64(0);
}

Result<std::string> SqliteDb::QueryText(std::string_view sql) {
  MURMUR_ASSIGN_OR_RETURN(SqliteStatement st, Prepare(sql));
  MURMUR_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFoundError(fmt::format("{}: no row from \"{}\"", *path_, Abbrev(sql)));
  return st.ColumnText(0);
}

}  // namespace murmur::server::store
