#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

namespace murmur::log {
namespace {

std::atomic<Format> g_format{Format::kText};

spdlog::level::level_enum ToSpd(Level l) {
  switch (l) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v";
const char* kJsonPattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%e","level":"%l",%v})";

void Install(std::shared_ptr<spdlog::logger> logger, Level level, Format format) {
  logger->set_level(ToSpd(level));
  logger->set_pattern(format == Format::kJson ? kJsonPattern : kTextPattern);
  logger->flush_on(spdlog::level::warn);
  g_format = format;
  spdlog::set_default_logger(std::move(logger));
}

std::string TextValue(const FieldValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          bool plain = !x.empty() && x.find_first_of(" \t\n\"=") == std::string::npos;
          return plain ? x : nlohmann::json(x).dump();
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{:.6g}", x);
        } else {
          return std::to_string(x);
        }
      },
      v);
}

}  // namespace

Result<Level> ParseLevel(std::string_view name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  return InvalidArgumentError(fmt::format(
      "unknown log level '{}' (expected trace, debug, info, warn, error or off)", name));
}

Result<Format> ParseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return InvalidArgumentError(
      fmt::format("unknown log format '{}' (expected text or json)", name));
}

Status Init(const Options& options) {
  spdlog::sink_ptr sink;
  try {
    if (options.file.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return UnavailableError(fmt::format("cannot open log file '{}': {}", options.file, e.what()));
  }
  Install(std::make_shared<spdlog::logger>("murmur", std::move(sink)), options.level,
          options.format);
  return Status();
}

void InitForTest(std::ostream& out, Level level, Format format) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out, /*force_flush=*/true);
  Install(std::make_shared<spdlog::logger>("murmur-test", sink), level, format);
}

bool Enabled(Level level) { return spdlog::default_logger_raw()->should_log(ToSpd(level)); }

void Write(Level level, std::string_view msg, Fields fields) {
  if (!Enabled(level)) return;
  std::string line;
  if (g_format.load() == Format::kJson) {
    nlohmann::json j = nlohmann::json::object();
    j["msg"] = msg;
    for (const Field& f : fields) {
      std::visit([&](const auto& x) { j[std::string(f.key)] = x; }, f.value);
    }
    std::string body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line = body.substr(1, body.size() - 2);  // strip braces: the pattern adds them
  } else {
    line.assign(msg);
    for (const Field& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      line += TextValue(f.value);
    }
  }
  spdlog::default_logger_raw()->log(ToSpd(level), line);
}

}  // namespace murmur::log
