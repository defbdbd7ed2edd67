#include "common/data/partitioners.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <fmt/format.h>

namespace murmur::data {
namespace {

constexpr size_t kMaxSamples = std::numeric_limits<uint32_t>::max();

void SortClients(Partition& p) {
  for (auto& client : p) std::sort(client.begin(), client.end());
}

Status CheckSampleCount(size_t n) {
  if (n > kMaxSamples) {
    return InvalidArgumentError(
        fmt::format("{} samples: partitions index samples with uint32", n));
  }
  return Status::Ok();
}

template <typename L>
Status CheckLabels(std::span<const L> labels, int num_classes) {
  if (num_classes < 1) {
    return InvalidArgumentError(fmt::format("num_classes must be >= 1, got {}", num_classes));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (static_cast<uint64_t>(labels[i]) >= static_cast<uint64_t>(num_classes)) {
      return InvalidArgumentError(fmt::format("sample {} has label {}, not in 0..{}", i,
                                              static_cast<uint64_t>(labels[i]),
                                              num_classes - 1));
    }
  }
  return Status::Ok();
}

// Moves random samples from the largest client to any client below `min`.
void TopUp(Partition& p, size_t min, Rng& rng) {
  for (size_t c = 0; c < p.size(); ++c) {
    while (p[c].size() < min) {
      size_t donor = 0;
      for (size_t d = 1; d < p.size(); ++d) {
        if (p[d].size() > p[donor].size()) donor = d;
      }
      // donor.size() > min holds whenever num_samples >= num_clients * min.
      auto& from = p[donor];
      const size_t pos = rng.UniformInt(from.size());
      std::swap(from[pos], from.back());
      p[c].push_back(from.back());
      from.pop_back();
    }
  }
}

template <typename L>
Result<Partition> DirichletImpl(std::span<const L> labels, int num_classes, size_t num_clients,
                                double alpha, size_t min_per_client, Rng& rng) {
  MURMUR_RETURN_IF_ERROR(CheckSampleCount(labels.size()));
  MURMUR_RETURN_IF_ERROR(CheckLabels(labels, num_classes));
  if (num_clients == 0) return InvalidArgumentError("num_clients must be >= 1");
  if (!(alpha > 0.0) || !std::isfinite(alpha)) {
    return InvalidArgumentError(fmt::format("Dirichlet alpha must be > 0, got {}", alpha));
  }
  if (min_per_client > labels.size() / num_clients) {
    return InvalidArgumentError(fmt::format(
        "{} samples cannot give {} clients at least {} each", labels.size(), num_clients,
        min_per_client));
  }
  std::vector<std::vector<uint32_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    by_class[static_cast<size_t>(labels[i])].push_back(static_cast<uint32_t>(i));
  }
  Partition p(num_clients);
  for (auto& members : by_class) {
    rng.Shuffle(members);
    const std::vector<double> share = rng.Dirichlet(num_clients, alpha);
    const double n = static_cast<double>(members.size());
    double cumulative = 0.0;
    size_t begin = 0;
    for (size_t c = 0; c < num_clients; ++c) {
      cumulative += share[c];
      size_t end = c + 1 == num_clients
                       ? members.size()
                       : std::min(members.size(), static_cast<size_t>(std::llround(cumulative * n)));
      end = std::max(end, begin);
      p[c].insert(p[c].end(), members.begin() + static_cast<std::ptrdiff_t>(begin),
                  members.begin() + static_cast<std::ptrdiff_t>(end));
      begin = end;
    }
  }
  TopUp(p, min_per_client, rng);
  SortClients(p);
  return p;
}

template <typename L>
Result<Partition> ShardsImpl(std::span<const L> labels, size_t num_clients,
                             size_t shards_per_client, Rng& rng) {
  MURMUR_RETURN_IF_ERROR(CheckSampleCount(labels.size()));
  if (num_clients == 0 || shards_per_client == 0) {
    return InvalidArgumentError("num_clients and shards_per_client must be >= 1");
  }
  const size_t n = labels.size();
  if (shards_per_client > n / num_clients) {
    return InvalidArgumentError(fmt::format("{} samples cannot make {} clients x {} shards", n,
                                            num_clients, shards_per_client));
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  rng.Shuffle(order);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return labels[a] < labels[b]; });
  const size_t num_shards = num_clients * shards_per_client;
  std::vector<size_t> shard_ids(num_shards);
  std::iota(shard_ids.begin(), shard_ids.end(), size_t{0});
  rng.Shuffle(shard_ids);
  Partition p(num_clients);
  for (size_t k = 0; k < num_shards; ++k) {
    const size_t s = shard_ids[k];
    // Shard s covers [s*n/S, (s+1)*n/S): sizes differ by at most one.
    const size_t begin = s * n / num_shards, end = (s + 1) * n / num_shards;
    auto& client = p[k / shards_per_client];
    client.insert(client.end(), order.begin() + static_cast<std::ptrdiff_t>(begin),
                  order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  SortClients(p);
  return p;
}

template <typename L>
Result<Partition> MakeImpl(const PartitionSpec& spec, std::span<const L> labels, int num_classes,
                           Rng& rng) {
  switch (spec.scheme) {
    case PartitionScheme::kIid:
      return PartitionIid(labels.size(), spec.num_clients, rng);
    case PartitionScheme::kDirichlet:
      return PartitionDirichlet(labels, num_classes, spec.num_clients, spec.alpha,
                                spec.min_per_client, rng);
    case PartitionScheme::kShards:
      return PartitionShards(labels, spec.num_clients, spec.shards_per_client, rng);
    case PartitionScheme::kNatural: {
      if (num_classes < 1) return InvalidArgumentError("natural partition needs >= 1 source");
      if (spec.num_clients != 0 && spec.num_clients != static_cast<size_t>(num_classes)) {
        return InvalidArgumentError(fmt::format(
            "the natural partition has one client per source: {} sources, {} clients asked",
            num_classes, spec.num_clients));
      }
      std::vector<uint32_t> source(labels.begin(), labels.end());
      return PartitionNatural(source, static_cast<size_t>(num_classes));
    }
  }
  return InvalidArgumentError("unknown partition scheme");
}

}  // namespace

Result<Partition> PartitionIid(size_t num_samples, size_t num_clients, Rng& rng) {
  MURMUR_RETURN_IF_ERROR(CheckSampleCount(num_samples));
  if (num_clients == 0 || num_clients > num_samples) {
    return InvalidArgumentError(fmt::format(
        "IID partition of {} samples needs 1..{} clients, got {}", num_samples, num_samples,
        num_clients));
  }
  std::vector<uint32_t> order(num_samples);
  std::iota(order.begin(), order.end(), 0u);
  rng.Shuffle(order);
  Partition p(num_clients);
  for (size_t c = 0; c < num_clients; ++c) {
    const size_t begin = c * num_samples / num_clients;
    const size_t end = (c + 1) * num_samples / num_clients;
    p[c].assign(order.begin() + static_cast<std::ptrdiff_t>(begin),
                order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  SortClients(p);
  return p;
}

Result<Partition> PartitionDirichlet(std::span<const uint32_t> labels, int num_classes,
                                     size_t num_clients, double alpha, size_t min_per_client,
                                     Rng& rng) {
  return DirichletImpl(labels, num_classes, num_clients, alpha, min_per_client, rng);
}

Result<Partition> PartitionDirichlet(std::span<const uint8_t> labels, int num_classes,
                                     size_t num_clients, double alpha, size_t min_per_client,
                                     Rng& rng) {
  return DirichletImpl(labels, num_classes, num_clients, alpha, min_per_client, rng);
}

Result<Partition> PartitionShards(std::span<const uint32_t> labels, size_t num_clients,
                                  size_t shards_per_client, Rng& rng) {
  return ShardsImpl(labels, num_clients, shards_per_client, rng);
}

Result<Partition> PartitionShards(std::span<const uint8_t> labels, size_t num_clients,
                                  size_t shards_per_client, Rng& rng) {
  return ShardsImpl(labels, num_clients, shards_per_client, rng);
}

Result<Partition> PartitionNatural(std::span<const uint32_t> source, size_t num_sources) {
  MURMUR_RETURN_IF_ERROR(CheckSampleCount(source.size()));
  if (num_sources == 0) return InvalidArgumentError("natural partition needs >= 1 source");
  Partition p(num_sources);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] >= num_sources) {
      return InvalidArgumentError(fmt::format("sample {} has source {}, not in 0..{}", i,
                                              source[i], num_sources - 1));
    }
    p[source[i]].push_back(static_cast<uint32_t>(i));  // ascending by construction
  }
  return p;
}

Result<PartitionScheme> ParsePartitionScheme(std::string_view name) {
  if (name == "iid") return PartitionScheme::kIid;
  if (name == "dirichlet") return PartitionScheme::kDirichlet;
  if (name == "shards") return PartitionScheme::kShards;
  if (name == "natural") return PartitionScheme::kNatural;
  return InvalidArgumentError(fmt::format(
      "unknown partition scheme '{}' (expected iid, dirichlet, shards or natural)", name));
}

std::string_view PartitionSchemeName(PartitionScheme scheme) {
  switch (scheme) {
    case PartitionScheme::kIid: return "iid";
    case PartitionScheme::kDirichlet: return "dirichlet";
    case PartitionScheme::kShards: return "shards";
    case PartitionScheme::kNatural: return "natural";
  }
  return "?";
}

Result<Partition> MakePartition(const PartitionSpec& spec, std::span<const uint32_t> labels,
                                int num_classes, Rng& rng) {
  return MakeImpl(spec, labels, num_classes, rng);
}

Result<Partition> MakePartition(const PartitionSpec& spec, std::span<const uint8_t> labels,
                                int num_classes, Rng& rng) {
  return MakeImpl(spec, labels, num_classes, rng);
}

}  // namespace murmur::data
