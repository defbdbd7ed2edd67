// Availability traces: when each client is online, replacing the synthetic
// participation patterns.
//
// File format (CSV, UTF-8, one interval per line):
//   # comment lines start with '#'; blank lines are ignored
//   client,online_from_s,online_to_s      <- optional header, exactly this
//   0,0,3600
//   0,7200,9000.5
//   17,120,4000
// `client` is the client's index 0..N-1 in the experiment; the times are
// seconds of simulated time since the start, 0 <= from < to. Intervals of
// one client may come in any order and may overlap (they are merged). A
// client with no line is never online. Any bad line is an error naming
// file:line and what is wrong with it.
//
// GenerateDiurnalTrace writes a synthetic day/night trace: each client has
// a home time zone (a phase); on each simulated day it comes online for a
// few sessions clustered around its local evening, each of an exponentially
// distributed length.
//
// Threading: a trace is an immutable value once loaded.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/rng.h"
#include "common/status.h"

namespace murmur::sim {

struct Interval {
  double from_s = 0;
  double to_s = 0;
};

class AvailabilityTrace {
 public:
  // Parses `in`; `name` is used in errors ("name:line: ...").
  static Result<AvailabilityTrace> Parse(std::istream& in, const std::string& name);
  static Result<AvailabilityTrace> Load(const std::string& path);

  // Merged, sorted intervals of `client` (empty for an unknown client).
  const std::vector<Interval>& intervals(uint32_t client) const;
  // Clients 0..num_clients()-1 (one past the highest index seen).
  uint32_t num_clients() const { return static_cast<uint32_t>(by_client_.size()); }
  bool IsOnline(uint32_t client, double t_s) const;
  // Fraction of [0, horizon_s) that `client` is online.
  double OnlineFraction(uint32_t client, double horizon_s) const;

  void Add(uint32_t client, Interval iv);  // then call Normalize
  void SetNumClients(uint32_t n);          // grows only
  void Normalize();                        // sort and merge each client's intervals
  void Write(std::ostream& out) const;

 private:
  std::vector<std::vector<Interval>> by_client_;
};

struct DiurnalOptions {
  uint32_t clients = 100;
  double days = 1;
  double sessions_per_day = 2;      // mean (Poisson)
  double session_mean_s = 3600;     // exponential
  double peak_hour = 20;            // local time of the sessions' centre
  double spread_hours = 3;          // normal spread around the peak
};

AvailabilityTrace GenerateDiurnalTrace(const DiurnalOptions& options, Rng& rng);

}  // namespace murmur::sim
