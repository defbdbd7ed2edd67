#include "server/service/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace murmur::server {
namespace {

bool ValidName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// HELP text: backslash and newline escaped.
std::string EscapeHelp(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// A label value: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `k1="v1",k2="v2"` in the given order; false when a label name is invalid.
bool LabelText(const MetricLabels& labels, std::string* out) {
  out->clear();
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, /*allow_colon=*/false) || k.starts_with("__") || k == "le") return false;
    if (!out->empty()) *out += ',';
    *out += fmt::format("{}=\"{}\"", k, EscapeLabelValue(v));
  }
  return true;
}

std::string_view TypeName(int type) {
  switch (type) {
    case 0: return "counter";
    case 1: return "gauge";
    default: return "histogram";
  }
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

Status MetricsRegistry::Declare(Family family) {
  if (!ValidName(family.name, /*allow_colon=*/true)) {
    return InvalidArgumentError(fmt::format("invalid metric name \"{}\"", family.name));
  }
  std::lock_guard lock(mu_);
  for (const Family& f : families_) {
    if (f.name == family.name) {
      return AlreadyExistsError(fmt::format("metric {} is declared twice", family.name));
    }
  }
  families_.push_back(std::move(family));
  return Status::Ok();
}

Status MetricsRegistry::DeclareCounter(std::string name, std::string help) {
  return Declare({.name = std::move(name), .help = std::move(help), .type = Type::kCounter});
}

Status MetricsRegistry::DeclareGauge(std::string name, std::string help) {
  return Declare({.name = std::move(name), .help = std::move(help), .type = Type::kGauge});
}

Status MetricsRegistry::DeclareHistogram(std::string name, std::string help,
                                         std::vector<double> upper_bounds) {
  if (upper_bounds.empty()) {
    return InvalidArgumentError(fmt::format("histogram {} needs at least one bucket bound", name));
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && !(upper_bounds[i] > upper_bounds[i - 1]))) {
      return InvalidArgumentError(fmt::format(
          "histogram {}: bucket bounds must be finite and strictly increasing", name));
    }
  }
  Family f{.name = std::move(name), .help = std::move(help), .type = Type::kHistogram};
  f.bucket_counts.assign(upper_bounds.size(), 0);
  f.bounds = std::move(upper_bounds);
  return Declare(std::move(f));
}

MetricsRegistry::Family* MetricsRegistry::Find(std::string_view name, Type type) {
  for (Family& f : families_) {
    if (f.name == name) return f.type == type ? &f : nullptr;
  }
  return nullptr;
}

bool MetricsRegistry::Add(std::string_view name, const MetricLabels& labels, double delta) {
  std::string key;
  if (!(delta >= 0) || !LabelText(labels, &key)) return false;
  std::lock_guard lock(mu_);
  Family* f = Find(name, Type::kCounter);
  if (f == nullptr) return false;
  f->series[key] += delta;
  return true;
}

bool MetricsRegistry::Set(std::string_view name, const MetricLabels& labels, double value) {
  std::string key;
  if (!LabelText(labels, &key)) return false;
  std::lock_guard lock(mu_);
  Family* f = Find(name, Type::kGauge);
  if (f == nullptr) f = Find(name, Type::kCounter);
  if (f == nullptr) return false;
  f->series[key] = value;
  return true;
}

bool MetricsRegistry::Observe(std::string_view name, double value) {
  std::lock_guard lock(mu_);
  Family* f = Find(name, Type::kHistogram);
  if (f == nullptr) return false;
  // Bucket i counts values in (bounds[i-1], bounds[i]]; above the last bound
  // only +Inf (count) holds them.
  const auto it = std::lower_bound(f->bounds.begin(), f->bounds.end(), value);
  if (it != f->bounds.end()) ++f->bucket_counts[it - f->bounds.begin()];
  ++f->count;
  f->sum += value;
  return true;
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const Family& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, EscapeHelp(f.help), f.name,
                       TypeName(static_cast<int>(f.type)));
    if (f.type == Type::kHistogram) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += f.bucket_counts[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", f.name, FormatMetricValue(f.bounds[i]),
                           cumulative);
      }
      out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", f.name, f.count);
      out += fmt::format("{}_sum {}\n{}_count {}\n", f.name, FormatMetricValue(f.sum), f.name,
                         f.count);
      continue;
    }
    for (const auto& [labels, value] : f.series) {
      if (labels.empty()) {
        out += fmt::format("{} {}\n", f.name, FormatMetricValue(value));
      } else {
        out += fmt::format("{}{{{}}} {}\n", f.name, labels, FormatMetricValue(value));
      }
    }
  }
  return out;
}

}  // namespace murmur::server
