// MetricsRegistry: the coordinator's counters, gauges and fixed-bucket
// histograms, rendered in the Prometheus text exposition format (0.0.4).
//
// A family (one metric name) is declared once with its help text; a
// counter or gauge family holds one series per label set, a histogram
// family one unlabelled series with the bucket bounds given at declaration.
// Render() writes the families in declaration order, each with its HELP and
// TYPE lines, and the series of a family sorted by their label text. Values
// print in the shortest form that reads back exactly ("3", "0.25", "+Inf").
// A family with no series yet renders only its HELP and TYPE lines.
//
// Threading: every method is safe to call from many threads (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace murmur::server {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  // InvalidArgument for a name or label name Prometheus does not accept, a
  // histogram without bounds or with bounds not strictly increasing;
  // AlreadyExists for a name declared before.
  Status DeclareCounter(std::string name, std::string help);
  Status DeclareGauge(std::string name, std::string help);
  // `upper_bounds`: the finite bucket bounds ("le"); +Inf is implied.
  Status DeclareHistogram(std::string name, std::string help, std::vector<double> upper_bounds);

  // Adds `delta` (>= 0) to a counter series (created at 0). False when
  // `name` is not a declared counter or a label name is invalid.
  bool Add(std::string_view name, const MetricLabels& labels, double delta = 1);
  // Sets a gauge series, or a counter series whose source counts elsewhere
  // (the value must never go down). False as for Add.
  bool Set(std::string_view name, const MetricLabels& labels, double value);
  // Records one observation. False when `name` is not a declared histogram.
  bool Observe(std::string_view name, double value);

  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    std::string name;
    std::string help;
    Type type = Type::kCounter;
    std::map<std::string, double> series;  // rendered label text -> value
    std::vector<double> bounds;             // histogram: finite upper bounds
    std::vector<uint64_t> bucket_counts;    // histogram: per bound (not cumulative)
    uint64_t count = 0;                     // histogram
    double sum = 0;                         // histogram
  };

  Status Declare(Family family);
  Family* Find(std::string_view name, Type type);  // mu_ held

  mutable std::mutex mu_;
  std::vector<Family> families_;  // guarded by mu_, in declaration order
};

// The value as the text format writes it: shortest exact decimal, "+Inf",
// "-Inf", "NaN".
std::string FormatMetricValue(double v);

}  // namespace murmur::server
