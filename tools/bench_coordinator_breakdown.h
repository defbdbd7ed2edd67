// The per-update steps of the coordinator's ingest path, each timed alone on
// one thread (murmur-bench-coordinator --breakdown): decoding and validating
// a payload against the model (codec), XXH3 of the payload, the SQLite
// transaction that records one accepted update with its payload, the round
// aggregation of m updates (afa_cd) and the round commit (checkpoint file
// with fsync + the round's transaction). Costs are per update (a round's
// costs divided by m), so they add up to the coordinator's CPU/disk time per
// accepted update when nothing overlaps.
//
// Threading: MeasureBreakdown runs on the caller's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur::bench {

struct Breakdown {
  uint32_t updates_per_round = 0;
  double decode_ms = 0;          // DecodeTensorsInto with the model spec (checks finiteness)
  double xxh3_ms = 0;            // one XXH3-64 over the payload
  double store_write_ms = 0;     // participation row + 4 MB payload (segment file), one transaction
  double aggregate_ms = 0;       // afa_cd over m updates, divided by m
  double round_commit_ms = 0;    // checkpoint file + fsync + round transaction, divided by m
};

// Runs each step several times in `dir` (created, then removed).
Result<Breakdown> MeasureBreakdown(const TensorList& model, uint32_t updates_per_round,
                                   const std::string& dir);
void PrintBreakdown(const Breakdown& b, size_t update_bytes);
nlohmann::json BreakdownJson(const Breakdown& b);

}  // namespace murmur::bench
