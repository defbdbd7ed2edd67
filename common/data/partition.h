// Partition: which samples each federated client holds, and how skewed that is.
//
// A Partition lists, for each client, the indices of its samples in a dataset
// (ascending). The partitioners (partitioners.h) build them; this file checks
// them (every sample exactly once), counts labels per client
// (LabelHistogram) and prints a summary a person can read at a glance:
// client sizes, labels per client, and how far each client's label mix is
// from the whole dataset's (total-variation distance: 0 = IID, 1 = disjoint).
// "Labels" are class ids for image data and source ids for text (see
// text_dataset.h).
//
// Threading: plain values and functions; safe to use concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace murmur::data {

// partition[client] = that client's sample indices, ascending.
using Partition = std::vector<std::vector<uint32_t>>;
// counts[client][label] = how many of the client's samples carry that label.
using LabelCounts = std::vector<std::vector<uint32_t>>;

// OK when every index in 0..num_samples-1 appears exactly once overall.
Status ValidatePartition(const Partition& partition, size_t num_samples);

// Per-client label histograms. InvalidArgument on an index past `labels` or a
// label >= num_classes.
Result<LabelCounts> LabelHistogram(const Partition& partition,
                                   std::span<const uint32_t> labels, int num_classes);
Result<LabelCounts> LabelHistogram(const Partition& partition,
                                   std::span<const uint8_t> labels, int num_classes);

struct PartitionStats {
  size_t num_clients = 0;
  size_t num_samples = 0;
  size_t num_classes = 0;
  size_t empty_clients = 0;
  size_t min_size = 0, median_size = 0, max_size = 0;
  double mean_size = 0.0;
  // Distinct labels held by a client (non-empty clients only).
  size_t min_labels = 0, max_labels = 0;
  double mean_labels = 0.0;
  // Mean over non-empty clients of the share of its most common label.
  double mean_top_label_share = 0.0;
  // Mean over non-empty clients of the total-variation distance between the
  // client's label distribution and the pooled one.
  double mean_label_tv = 0.0;
};

PartitionStats ComputePartitionStats(const LabelCounts& counts);

// The stats, then one line per client (size, labels, "label:count" pairs) for
// the first `max_rows` clients.
std::string SummarizePartition(const LabelCounts& counts, size_t max_rows = 10);

}  // namespace murmur::data
