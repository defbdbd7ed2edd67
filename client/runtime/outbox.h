// Outbox: finished updates waiting for the coordinator's answer, one file
// each under the state directory's outbox/. The participant saves an update
// here *before* sending it and removes it only on a final answer (accepted,
// or a definitive rejection such as too stale), so an update survives a
// crash, a kill -9 mid-upload and a coordinator that is down; resending is
// safe because the coordinator answers a retry of an accepted update
// "accepted" again without counting it twice.
//
// File: "MRMOUTB1", u32 header length (little endian), a JSON header (the
// UpdateToPush fields but the payload, plus created_s), the payload bytes,
// and the XXH3-64 of everything before it (u64). Written atomically; temp
// files and files that fail their checksum (a torn write on a filesystem
// without atomic rename) are skipped on load with a warning.
//
// Threading: not synchronized; one participant owns an outbox.
#pragma once

#include <string>
#include <vector>

#include "common/api/types.h"
#include "common/status.h"

namespace murmur::client {

struct OutboxEntry {
  std::string id;  // the file name, e.g. "00001764536400123-v12.update"
  double created_s = 0;
  api::UpdateToPush update;
};

// What an outbox holds, without the payloads (for status).
struct OutboxSummary {
  std::string id;
  double created_s = 0;
  uint64_t base_version = 0;
  uint32_t local_steps = 0;
  uint64_t payload_bytes = 0;
};

class Outbox {
 public:
  explicit Outbox(std::string dir) : dir_(std::move(dir)) {}

  // Saves `update` atomically; returns its id.
  Result<std::string> Put(const api::UpdateToPush& update, double created_s);
  // Every readable entry, oldest first. Unreadable ones are skipped (logged).
  Result<std::vector<OutboxEntry>> List() const;
  Result<std::vector<OutboxSummary>> Summarize() const;
  Status Remove(const std::string& id);
  const std::string& dir() const { return dir_; }

  // Encoding (exposed for tests).
  static std::string Encode(const api::UpdateToPush& update, double created_s);
  static Result<OutboxEntry> Decode(std::string_view bytes, const std::string& id);

 private:
  std::string dir_;
};

}  // namespace murmur::client
