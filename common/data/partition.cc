#include "common/data/partition.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace murmur::data {
namespace {

template <typename L>
Result<LabelCounts> HistogramImpl(const Partition& partition, std::span<const L> labels,
                                  int num_classes) {
  if (num_classes < 1) {
    return InvalidArgumentError(fmt::format("num_classes must be >= 1, got {}", num_classes));
  }
  LabelCounts counts(partition.size(), std::vector<uint32_t>(static_cast<size_t>(num_classes)));
  for (size_t c = 0; c < partition.size(); ++c) {
    for (uint32_t i : partition[c]) {
      if (i >= labels.size()) {
        return InvalidArgumentError(fmt::format(
            "client {} holds sample {} but there are only {} labels", c, i, labels.size()));
      }
      const auto label = static_cast<uint32_t>(labels[i]);
      if (label >= static_cast<uint32_t>(num_classes)) {
        return InvalidArgumentError(fmt::format("sample {} has label {}, not in 0..{}", i,
                                                label, num_classes - 1));
      }
      ++counts[c][label];
    }
  }
  return counts;
}

}  // namespace

Status ValidatePartition(const Partition& partition, size_t num_samples) {
  std::vector<uint8_t> seen(num_samples, 0);
  size_t total = 0;
  for (size_t c = 0; c < partition.size(); ++c) {
    for (uint32_t i : partition[c]) {
      if (i >= num_samples) {
        return InvalidArgumentError(fmt::format("client {} holds sample {}, past the {} samples",
                                                c, i, num_samples));
      }
      if (seen[i]) {
        return InvalidArgumentError(fmt::format("sample {} is held twice (again by client {})",
                                                i, c));
      }
      seen[i] = 1;
      ++total;
    }
  }
  if (total != num_samples) {
    const size_t missing = static_cast<size_t>(
        std::find(seen.begin(), seen.end(), uint8_t{0}) - seen.begin());
    return InvalidArgumentError(fmt::format("{} of {} samples are held by no client (first: {})",
                                            num_samples - total, num_samples, missing));
  }
  return Status::Ok();
}

Result<LabelCounts> LabelHistogram(const Partition& partition,
                                   std::span<const uint32_t> labels, int num_classes) {
  return HistogramImpl(partition, labels, num_classes);
}

Result<LabelCounts> LabelHistogram(const Partition& partition,
                                   std::span<const uint8_t> labels, int num_classes) {
  return HistogramImpl(partition, labels, num_classes);
}

PartitionStats ComputePartitionStats(const LabelCounts& counts) {
  PartitionStats s;
  s.num_clients = counts.size();
  if (counts.empty()) return s;
  s.num_classes = counts[0].size();
  std::vector<double> pooled(s.num_classes, 0.0);
  std::vector<size_t> sizes;
  sizes.reserve(counts.size());
  for (const auto& row : counts) {
    size_t n = 0;
    for (size_t k = 0; k < row.size(); ++k) {
      n += row[k];
      pooled[k] += row[k];
    }
    sizes.push_back(n);
    s.num_samples += n;
  }
  for (double& p : pooled) p /= std::max<double>(1.0, static_cast<double>(s.num_samples));

  size_t non_empty = 0;
  s.min_labels = s.num_classes;
  for (size_t c = 0; c < counts.size(); ++c) {
    if (sizes[c] == 0) {
      ++s.empty_clients;
      continue;
    }
    ++non_empty;
    size_t distinct = 0;
    uint32_t top = 0;
    double tv = 0.0;
    for (size_t k = 0; k < s.num_classes; ++k) {
      distinct += counts[c][k] > 0;
      top = std::max(top, counts[c][k]);
      tv += std::abs(static_cast<double>(counts[c][k]) / static_cast<double>(sizes[c]) -
                     pooled[k]);
    }
    s.min_labels = std::min(s.min_labels, distinct);
    s.max_labels = std::max(s.max_labels, distinct);
    s.mean_labels += static_cast<double>(distinct);
    s.mean_top_label_share += static_cast<double>(top) / static_cast<double>(sizes[c]);
    s.mean_label_tv += 0.5 * tv;
  }
  if (non_empty > 0) {
    s.mean_labels /= static_cast<double>(non_empty);
    s.mean_top_label_share /= static_cast<double>(non_empty);
    s.mean_label_tv /= static_cast<double>(non_empty);
  } else {
    s.min_labels = 0;
  }
  std::vector<size_t> sorted = sizes;
  std::sort(sorted.begin(), sorted.end());
  s.min_size = sorted.front();
  s.max_size = sorted.back();
  s.median_size = sorted[sorted.size() / 2];
  s.mean_size = static_cast<double>(s.num_samples) / static_cast<double>(s.num_clients);
  return s;
}

std::string SummarizePartition(const LabelCounts& counts, size_t max_rows) {
  const PartitionStats s = ComputePartitionStats(counts);
  std::string out = fmt::format(
      "partition: {} clients, {} samples, {} labels\n"
      "  client size: min {} / median {} / max {} (mean {:.1f}), {} empty\n"
      "  labels per client: min {} / mean {:.2f} / max {}\n"
      "  top-label share {:.3f}, label TV distance to pooled {:.3f} (means over clients)\n",
      s.num_clients, s.num_samples, s.num_classes, s.min_size, s.median_size, s.max_size,
      s.mean_size, s.empty_clients, s.min_labels, s.mean_labels, s.max_labels,
      s.mean_top_label_share, s.mean_label_tv);
  constexpr size_t kMaxPairs = 12;
  const size_t rows = std::min(max_rows, counts.size());
  if (rows > 0) out += fmt::format("  {:>6} {:>8} {:>6}  label:count\n", "client", "size", "labels");
  for (size_t c = 0; c < rows; ++c) {
    size_t n = 0, distinct = 0;
    std::string pairs;
    for (size_t k = 0; k < counts[c].size(); ++k) {
      if (counts[c][k] == 0) continue;
      n += counts[c][k];
      if (++distinct <= kMaxPairs) pairs += fmt::format(" {}:{}", k, counts[c][k]);
    }
    if (distinct > kMaxPairs) pairs += fmt::format(" (+{} more)", distinct - kMaxPairs);
    out += fmt::format("  {:>6} {:>8} {:>6} {}\n", c, n, distinct, pairs);
  }
  if (rows < counts.size()) out += fmt::format("  ... {} more clients\n", counts.size() - rows);
  return out;
}

}  // namespace murmur::data
