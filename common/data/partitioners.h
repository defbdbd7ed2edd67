// Partitioners: split a dataset's samples across federated clients.
//
// Four schemes, each deterministic given the Rng's state (same seed, same
// partition; a different seed gives a different one), each covering every
// sample exactly once, each returning ascending indices per client:
//
//  - IID: shuffle, then deal near-equal parts (sizes differ by at most 1).
//  - Dirichlet(alpha): the standard label-skew scheme (Hsu et al. 2019). For
//    each class, draw client proportions p ~ Dir(alpha * 1) and cut that
//    class's shuffled samples by p. Small alpha (0.1) gives each client a
//    few dominant classes; large alpha (100) approaches IID. Minimum size
//    guarantee: a client left with fewer than `min_per_client` samples is
//    topped up by moving randomly chosen samples, one at a time, from the
//    currently largest client (lowest index on ties). This keeps the draw's
//    label skew (unlike re-drawing until every client is big enough, which
//    may never finish for tiny alpha and many clients) and always succeeds
//    when num_samples >= num_clients * min_per_client (else InvalidArgument).
//  - Shards (McMahan et al. 2017): sort samples by label (random order within
//    a label), cut into num_clients * shards_per_client contiguous shards of
//    near-equal size, deal each client shards_per_client random shards. With
//    2 shards per client a client sees about 2 labels (exactly at most 2 when
//    shards align with class boundaries, as on Fashion-MNIST with 100
//    clients).
//  - Natural: client s holds the samples whose source is s (one client per
//    file/author/device). A source with no samples gives an empty client;
//    SummarizePartition counts them.
//
// Threading: the functions are reentrant; the Rng they take is not
// synchronized (give each thread its own, e.g. via Rng::Fork).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/data/partition.h"
#include "common/rng.h"
#include "common/status.h"

namespace murmur::data {

// Requires 1 <= num_clients <= num_samples < 2^32.
Result<Partition> PartitionIid(size_t num_samples, size_t num_clients, Rng& rng);

// Requires alpha > 0, num_classes >= 1, every label < num_classes,
// num_clients >= 1, min_per_client * num_clients <= labels.size().
Result<Partition> PartitionDirichlet(std::span<const uint32_t> labels, int num_classes,
                                     size_t num_clients, double alpha, size_t min_per_client,
                                     Rng& rng);
Result<Partition> PartitionDirichlet(std::span<const uint8_t> labels, int num_classes,
                                     size_t num_clients, double alpha, size_t min_per_client,
                                     Rng& rng);

// Requires shards_per_client >= 1 and num_clients * shards_per_client <=
// labels.size().
Result<Partition> PartitionShards(std::span<const uint32_t> labels, size_t num_clients,
                                  size_t shards_per_client, Rng& rng);
Result<Partition> PartitionShards(std::span<const uint8_t> labels, size_t num_clients,
                                  size_t shards_per_client, Rng& rng);

// One client per source id 0..num_sources-1.
Result<Partition> PartitionNatural(std::span<const uint32_t> source, size_t num_sources);

// A partition named by configuration ("iid", "dirichlet", "shards", "natural").
enum class PartitionScheme { kIid, kDirichlet, kShards, kNatural };

Result<PartitionScheme> ParsePartitionScheme(std::string_view name);
std::string_view PartitionSchemeName(PartitionScheme scheme);

struct PartitionSpec {
  PartitionScheme scheme = PartitionScheme::kIid;
  size_t num_clients = 10;  // for kNatural: 0 or the number of sources
  double alpha = 0.5;              // kDirichlet
  size_t min_per_client = 1;       // kDirichlet
  size_t shards_per_client = 2;    // kShards
};

// Dispatches on spec.scheme. `labels` are class ids (num_classes of them) or,
// for kNatural, source ids (num_classes = number of sources).
Result<Partition> MakePartition(const PartitionSpec& spec, std::span<const uint32_t> labels,
                                int num_classes, Rng& rng);
Result<Partition> MakePartition(const PartitionSpec& spec, std::span<const uint8_t> labels,
                                int num_classes, Rng& rng);

}  // namespace murmur::data
