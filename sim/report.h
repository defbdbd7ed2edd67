// Report: murmur-sim's outputs from the runs of an experiment.
//   per-round CSV  version,sim_time_s,accuracy,loss,participants,
//                  mean_staleness,sum_weights  (one file per strategy and
//                  seed; accuracy/loss empty where not evaluated; numbers
//                  printed with fixed precision so the same run gives the
//                  same bytes);
//   JSON summary   the experiment, and per run its final and best accuracy,
//                  counts, simulated and wall time, true p_n and accepted
//                  updates per client;
//   table          one line per strategy: mean over seeds of the final
//                  accuracy and loss, rounds, simulated time, wall time.
//
// Threading: pure functions.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/experiment.h"
#include "sim/simulation.h"

namespace murmur::sim {

void WriteRoundCsv(std::ostream& out, const RunResult& run);
std::string RoundCsv(const RunResult& run);
// The last evaluated accuracy and loss of a run (NaN when none).
double FinalAccuracy(const RunResult& run);
double FinalLoss(const RunResult& run);
nlohmann::json SummaryJson(const ExperimentConfig& e, const std::vector<RunResult>& runs);
std::string SummaryTable(const ExperimentConfig& e, const std::vector<RunResult>& runs);

}  // namespace murmur::sim
