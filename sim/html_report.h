// HtmlReport: murmur-sim's one-page report, <out>/report.html, that a person
// opens in a browser: what ran (experiment, clients, participation, seeds),
// a table per strategy (final and best accuracy as mean and min..max over
// seeds, versions, accepted and rejected updates, simulated and wall time)
// and the figures. Self-contained: each SVG is embedded as a data: URI, so
// the file can be copied or mailed alone.
//
// Threading: pure functions.
#pragma once

#include <string>
#include <vector>

#include "sim/experiment.h"
#include "sim/plots.h"
#include "sim/simulation.h"

namespace murmur::sim {

// `figures` are read from disk and embedded; `note` (e.g. why there are no
// plots) is shown above them when not empty.
Result<std::string> HtmlReport(const ExperimentConfig& e, const std::vector<RunResult>& runs,
                               const std::vector<Figure>& figures, const std::string& note);

std::string HtmlEscape(const std::string& s);
std::string Base64(const std::string& bytes);

}  // namespace murmur::sim
