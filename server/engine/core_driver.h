// CoreDriver: runs a RoundCore synchronously on the caller's thread, with an
// optional Store, for the simulator and the tests: no threads, no timers, no
// real clock, so a run with the same inputs and times replays bit for bit.
//
//   CoreDriver d(core.get(), store);            // store may be null
//   d.Offer(meta, payload, now, ticket);        // admission + payload check + submit
//   d.Tick(now);                                // deadlines
//   Settled s = d.Settle(now);                  // aggregate due rounds, write, acknowledge
//
// It follows the core's protocol exactly as the threaded engine does
// (round_engine_worker.cc): every due round is aggregated, written in one
// transaction with the records before it, and only then acknowledged.
//
// Threading: none; one thread drives one driver and its core.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/core/round_core.h"
#include "server/store/store.h"

namespace murmur::server::core {

struct Settled {
  std::vector<Ack> acks;            // in the order the core decided them
  std::vector<RoundSummary> rounds;  // committed rounds, oldest first
};

class CoreDriver {
 public:
  CoreDriver(RoundCore* core, store::Store* store) : core_(core), store_(store) {}

  // Admission, payload decode and checks, then Submit (which may make a round
  // due: call Settle). An immediate rejection comes back here; otherwise the
  // outcome arrives with `ticket` in a later Settle.
  std::optional<UpdateOutcome> Offer(const UpdateMeta& meta, std::string payload, double now_s,
                                     Ticket ticket);
  void Tick(double now_s) { core_->Tick(now_s); }
  // Runs every due round job and writes everything pending.
  Settled Settle(double now_s);

 private:
  void Commit(PendingWrite write, Settled& out);

  RoundCore* const core_;
  store::Store* const store_;
};

}  // namespace murmur::server::core
