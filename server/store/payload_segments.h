// PayloadSegments: the payloads of accepted updates whose round has not
// closed, kept out of SQLite in one append-only file per open round
// (<dir>/round-<V>.seg). Appending a group of payloads is one write each and
// ONE fsync for the group (plus one directory fsync when the round's file is
// new). SqliteStore then records each payload's location in the same
// transaction as its participation row, so a committed row never names
// bytes that are not durable. Bytes that no row names (the transaction
// failed or the process died after the append) are dead space the next
// append skips and the round's removal deletes.
//
// Why: SQLite writes a 4 MB blob twice (WAL, then the database at the WAL
// checkpoint) as ~1,000 overflow pages and deletes it page by page when its
// round closes; a segment is written once and dropped whole.
//
// Threading: one thread at a time (the store's writer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "server/store/file_ops.h"

namespace murmur::server::store {

// Where one payload lives.
struct PayloadLocation {
  uint64_t round = 0;   // the round its update was accepted into
  uint64_t offset = 0;  // byte offset in that round's segment
  uint64_t length = 0;

  bool operator==(const PayloadLocation&) const = default;
};

class PayloadSegments {
 public:
  // `dir` must exist; `ops` nullptr: the real file system.
  PayloadSegments(std::string dir, FileOps* ops);
  ~PayloadSegments();
  PayloadSegments(const PayloadSegments&) = delete;
  PayloadSegments& operator=(const PayloadSegments&) = delete;

  // Appends each (round, payload) to its round's segment and makes all of
  // them durable before returning their locations (same order). On an
  // error nothing it appended is kept (best effort: the file is cut back),
  // and the error names the file.
  Result<std::vector<PayloadLocation>> Append(
      const std::vector<std::pair<uint64_t, std::string_view>>& payloads);

  // The bytes at `where`; DATA_LOSS naming the file when they are missing.
  Result<std::string> Read(const PayloadLocation& where) const;

  // Deletes the segments of every round <= `round` (their rounds are
  // committed; nothing can name them any more). Best effort: a file that
  // cannot be removed now is swept by the next call.
  void RemoveThrough(uint64_t round);

  std::string PathOf(uint64_t round) const;

 private:
  Status OpenRound(uint64_t round);

  const std::string dir_;
  FileOps* const ops_;
  uint64_t open_round_ = 0;
  std::unique_ptr<WritableFile> open_;  // round open_round_'s segment, kept open between appends
};

}  // namespace murmur::server::store
