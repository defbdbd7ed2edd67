// Engine flags: every EngineConfig and StrategyConfig setting as a CLI11
// flag (and so as a key of the `--config` TOML file, see common/config.h),
// with `--help` text and the defaults taken from the config passed in.
//
//   server::EngineConfig cfg;                  // the binary's defaults
//   server::EngineFlagValues values;
//   server::AddEngineFlags(app, &cfg, &values);
//   ... ParseCommandLine(app, argc, argv) ...
//   Status s = server::FinishEngineFlags(values, &cfg);   // strings -> enums, known-p file
//
// Numbers and booleans are written straight into `cfg` by CLI11; settings
// spelled as words (mode, staleness kind, AFA-CS warm-up, encodings, FedAU's
// K_cut that may be "inf") and the known-p file go through `values` and are
// converted by FinishEngineFlags, whose errors name the flag (and for the
// known-p file, the file and the key).
//
// Known-p file (--known-p-file PATH), for fedavg_known_p:
//   [known_p]
//   alice = 0.25         # client name = p_n, in (0, 1]
//   "edge-7" = 1
// It fills EngineConfig::known_p_by_name.
//
// Threading: start-up only, on the main thread; `cfg` and `values` must
// outlive the parse.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "common/status.h"
#include "server/engine_config.h"

namespace murmur::server {

// The word-valued settings between parsing and FinishEngineFlags.
// AddEngineFlags fills them from the config's current values (the defaults).
struct EngineFlagValues {
  std::string mode;             // "async" | "sync"
  // "default" | "none" | "constant" | "inv_sqrt" | "polynomial" | "hinge"
  std::string staleness;
  std::string afa_cs_warmup;    // "all" | "seen"
  std::string fedau_k_cut;      // a positive integer, or 0 / "inf" for infinity
  std::string update_encoding;  // "fp32" | "fp16" | "bf16" | "int8"
  std::string model_encoding;   // same
  std::string known_p_file;     // empty: none
  // Whether --max-staleness was given (command line or config file), for a
  // caller whose default depends on the mode.
  uint64_t max_staleness = 0;  // --max-staleness (used only when given)
  bool max_staleness_given = false;
  CLI::Option* max_staleness_option = nullptr;  // set by AddEngineFlags
};

// Declares the engine and strategy flags on `app`, bound to `cfg` and
// `values`. --strategy is checked against strategy::StrategyNames().
void AddEngineFlags(CLI::App& app, EngineConfig* cfg, EngineFlagValues* values);

// After parsing: converts the words in `values` into `cfg` and loads the
// known-p file. INVALID_ARGUMENT naming the flag and the bad value;
// NOT_FOUND / INVALID_ARGUMENT naming the known-p file (and key) when it
// cannot be read or is wrong. Does not run ValidateEngineConfig.
Status FinishEngineFlags(EngineFlagValues& values, EngineConfig* cfg);

// Reads a known-p file: the [known_p] table of client name -> p_n in (0, 1].
Result<std::map<std::string, double>> LoadKnownPFile(const std::string& path);

}  // namespace murmur::server
