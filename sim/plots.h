// Plots: murmur-sim's figures, drawn by gnuplot (Debian package gnuplot-nox)
// from data files murmur-sim writes next to them in <out>/plots/:
//   accuracy_vs_rounds.svg  test accuracy per round, one line per strategy
//                           (mean over seeds where several ran);
//   accuracy_vs_time.svg    the same against simulated time (mean over seeds);
//                           (loss_vs_*.svg, the test loss, for a task without
//                           accuracy such as the regression task);
//   participation_<label>.svg  a heatmap of accepted updates, clients (sorted
//                           by their true p_n, highest at the top) x rounds,
//                           for each strategy's first seed.
// The .dat files and plots.gp stay in <out>/plots so a figure can be redrawn
// or restyled by hand (`gnuplot plots.gp` there).
//
// Threading: pure apart from writing files and running gnuplot (a child
// process); call from one thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sim/experiment.h"
#include "sim/simulation.h"

namespace murmur::sim {

struct Figure {
  std::string title;
  std::string path;  // the SVG file written
};

// Writes the data and script into `out_dir`/plots and runs `gnuplot` (a
// command name or path). Errors say what was missing (gnuplot itself, a
// file that could not be written, gnuplot's own message).
Result<std::vector<Figure>> DrawPlots(const ExperimentConfig& e, const std::vector<RunResult>& runs,
                                      const std::string& out_dir,
                                      const std::string& gnuplot = "gnuplot");

// A label made safe for a file name (letters, digits, '-', '_', '.').
std::string FileSafe(const std::string& label);

}  // namespace murmur::sim
