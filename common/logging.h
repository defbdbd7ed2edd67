// Structured, levelled logging for every murmur binary (spdlog underneath).
//
//   log::Info("round closed", {{"version", 12}, {"updates", 8}, {"loss", 0.41}});
//
// Text format:  2026-11-28T10:00:00.123 info  round closed version=12 updates=8 loss=0.41
// JSON format:  {"ts":"...","level":"info","msg":"round closed","version":12,...}
// JSON lines are for log shippers; text for people.
//
// Threading: Init is called once at start-up (before other threads log);
// the logging calls are safe from any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/status.h"

namespace spdlog {
class logger;
}

namespace murmur::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

Result<Level> ParseLevel(std::string_view name);
Result<Format> ParseFormat(std::string_view name);

struct Options {
  Level level = Level::kInfo;
  Format format = Format::kText;
  std::string file;  // empty: stderr
};

// (Re)configures the process-wide logger.
Status Init(const Options& options);
// Sends log lines to `out` instead (tests).
void InitForTest(std::ostream& out, Level level, Format format);

using FieldValue = std::variant<int64_t, uint64_t, double, bool, std::string>;

struct Field {
  template <typename T>
  Field(std::string_view k, T v) : key(k), value(Convert(std::move(v))) {}
  std::string_view key;
  FieldValue value;

 private:
  template <typename T>
  static FieldValue Convert(T v) {
    if constexpr (std::is_same_v<T, bool>) {
      return v;
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<double>(v);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return static_cast<int64_t>(v);
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<uint64_t>(v);
    } else {
      return std::string(v);
    }
  }
};

using Fields = std::initializer_list<Field>;

bool Enabled(Level level);
void Write(Level level, std::string_view msg, Fields fields = {});

inline void Debug(std::string_view msg, Fields f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, Fields f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, Fields f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, Fields f = {}) { Write(Level::kError, msg, f); }

}  // namespace murmur::log
