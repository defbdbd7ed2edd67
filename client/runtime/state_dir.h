// StateDir: the client daemon's state directory, everything it must keep
// across restarts and crashes:
//   identity.json        who this client is: name, client id, the last
//                        session token, and its enrollment secret (the
//                        credential its name is bound to; file mode 0600)
//   participation.json   the last participation (when, model version, K,
//                        outcome), totals, and today's compute-budget use
//   outbox/              finished updates not yet answered (outbox.h)
// Every file is written atomically (atomic_file.h): a crash leaves the old
// or the new version, and a temp file left by a crash is ignored on load.
//
// Threading: not synchronized; one daemon (one thread) owns a directory.
// `murmur-client status` only reads it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace murmur::client {

struct ClientIdentity {
  std::string name;
  uint64_t client_id = 0;  // 0: never registered
  std::string token;       // the last session's token (informational: a restart registers again)
  std::string enrollment_secret;
};

struct ParticipationRecord {
  double at_s = 0;  // wall-clock seconds since the Unix epoch of the last outcome (0: never)
  uint64_t base_version = 0;
  uint32_t local_steps = 0;
  double train_seconds = 0;
  double mean_loss = 0;
  std::string outcome;  // "accepted", "rejected: too_stale ...", "queued", ...
  uint64_t round_version = 0;
  uint64_t accepted_total = 0;
  uint64_t rejected_total = 0;
  int64_t budget_day = -1;  // the policy's local day of budget_used_s
  double budget_used_s = 0;
};

class StateDir {
 public:
  // Creates `path` (and outbox/) when missing; removes stale temp files.
  static Result<StateDir> Open(const std::string& path);
  // For readers (status): fails naming the path when it is not a state dir.
  static Result<StateDir> OpenExisting(const std::string& path);

  const std::string& path() const { return path_; }
  std::string outbox_dir() const { return path_ + "/outbox"; }

  Result<std::optional<ClientIdentity>> LoadIdentity() const;
  Status SaveIdentity(const ClientIdentity& identity) const;
  // The last record, or a default one (at_s = 0) when there is none.
  Result<ParticipationRecord> LoadParticipation() const;
  Status SaveParticipation(const ParticipationRecord& record) const;

 private:
  explicit StateDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A random secret for a first start without a configured one (32 hex digits
// from /dev/urandom).
Result<std::string> GenerateSecret();

}  // namespace murmur::client
