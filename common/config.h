// Configuration for murmur binaries: a TOML file overridden by CLI flags.
//
// Each binary declares its flags with CLI11 as usual and then calls
// ParseCommandLine. `--config FILE` loads a TOML file whose keys name the
// flags: `local_steps = 5` (or `local-steps`) sets `--local-steps`; nested
// tables flatten with dots, `[log] level = "debug"` sets `--log.level`.
// Precedence: command line > config file > defaults. An unknown key, a
// value of the wrong type or a TOML syntax error is a clear error naming the
// file, line and key. `--help` lists every flag and its default.
//
// Threading: used once at start-up, on the main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"

namespace murmur {

// Turns TOML text into CLI11 config items (exposed for tests).
class TomlConfig : public CLI::ConfigBase {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

// Adds `--config FILE` (TOML) to `app`.
void AddConfigFileOption(CLI::App& app);

// Adds --log.level, --log.format and --log.file, bound to `options`.
void AddLogOptions(CLI::App& app, log::Options* options);

// Parses argv (after AddConfigFileOption). Returns an exit code when the
// process should stop now (after --help, or on a bad flag or config, with
// the message already printed), or nullopt to go on.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// Parses a full argument list; errors come back as a Status (tests, tools).
Status ParseArgs(CLI::App& app, std::vector<std::string> args);

}  // namespace murmur
