#include "common/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <toml++/toml.h>

namespace murmur {
namespace {

std::string OptionName(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string ScalarText(const toml::node& node, const std::string& key) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  throw CLI::ConversionError(fmt::format(
      "config key '{}' (line {}): dates, times and nested arrays are not supported",
      key, node.source().begin.line));
}

void Flatten(const toml::table& table, const std::string& prefix,
             std::vector<CLI::ConfigItem>& out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      Flatten(*sub, key, out);
      continue;
    }
    CLI::ConfigItem item;
    item.name = OptionName(key);
    if (const toml::array* arr = node.as_array()) {
      for (const toml::node& el : *arr) item.inputs.push_back(ScalarText(el, key));
    } else {
      item.inputs.push_back(ScalarText(node, key));
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  std::stringstream buffer;
  buffer << input.rdbuf();
  std::vector<CLI::ConfigItem> items;
  try {
    toml::table table = toml::parse(buffer.str());
    Flatten(table, "", items);
  } catch (const toml::parse_error& e) {
    throw CLI::ConversionError(fmt::format("config file is not valid TOML: line {}, column {}: {}",
                                           e.source().begin.line, e.source().begin.column,
                                           e.description()));
  }
  return items;
}

void AddConfigFileOption(CLI::App& app) {
  app.set_config("--config", "", "TOML file with flag values (flags on the command line win)");
  app.config_formatter(std::make_shared<TomlConfig>());
  app.allow_config_extras(CLI::config_extras_mode::error);
}

void AddLogOptions(CLI::App& app, log::Options* options) {
  static const std::map<std::string, log::Level> kLevels = {
      {"trace", log::Level::kTrace}, {"debug", log::Level::kDebug}, {"info", log::Level::kInfo},
      {"warn", log::Level::kWarn},   {"error", log::Level::kError}, {"off", log::Level::kOff}};
  static const std::map<std::string, log::Format> kFormats = {{"text", log::Format::kText},
                                                              {"json", log::Format::kJson}};
  app.add_option("--log.level", options->level, "Log level")
      ->transform(CLI::CheckedTransformer(kLevels))
      ->default_str("info");
  app.add_option("--log.format", options->format, "Log line format")
      ->transform(CLI::CheckedTransformer(kFormats))
      ->default_str("text");
  app.add_option("--log.file", options->file, "Write logs to this file instead of stderr");
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

Status ParseArgs(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return InvalidArgumentError(e.what());
  }
  return Status();
}

}  // namespace murmur
