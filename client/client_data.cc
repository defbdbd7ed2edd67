#include "client/client_data.h"

#include <fmt/format.h>

#include <numeric>

#include "common/data/fashion_mnist.h"
#include "common/data/partitioners.h"

namespace murmur::client {

Status ClientData::LoadText(const DataConfig& c) {
  Result<std::string> chars = data::ReadUtf8File(c.vocabulary);
  if (!chars.ok()) return chars.status().WithContext("--data.vocabulary " + c.vocabulary);
  Result<data::Vocabulary> vocab = data::Vocabulary::FromUtf8(*chars);
  if (!vocab.ok()) return vocab.status().WithContext("--data.vocabulary " + c.vocabulary);
  Result<std::vector<std::string>> files = data::ListFortuneFiles(c.text_dir);
  if (!files.ok()) return files.status().WithContext("--data.text-dir");
  MURMUR_ASSIGN_OR_RETURN(text_, data::LoadTextFiles(*files, &*vocab));
  MURMUR_ASSIGN_OR_RETURN(chunks_, data::ChunkText(text_, c.text_length));
  examples_ = model::Examples::Text(text_, chunks_);
  shard_.resize(chunks_.size());
  std::iota(shard_.begin(), shard_.end(), 0u);
  size_t unknown = 0;
  for (uint32_t t : text_.tokens) unknown += t == data::Vocabulary::kUnknownId;
  description_ = fmt::format(
      "text: {} files, {} characters ({} outside the {}-id vocabulary) from {}, samples of {}",
      files->size(), text_.size(), unknown, text_.vocab.size(), c.text_dir, c.text_length);
  return Status::Ok();
}

Result<std::unique_ptr<ClientData>> ClientData::Load(const DataConfig& c) {
  std::unique_ptr<ClientData> d(new ClientData());
  if (!c.text_dir.empty()) {
    MURMUR_RETURN_IF_ERROR(d->LoadText(c));
  } else if (!c.images.empty()) {
    MURMUR_ASSIGN_OR_RETURN(d->images_, data::LoadIdxPair(c.images, c.labels));
    d->shard_.resize(d->images_.size());
    std::iota(d->shard_.begin(), d->shard_.end(), 0u);
    d->description_ = fmt::format("{} images from {}", d->images_.size(), c.images);
  } else {
    MURMUR_ASSIGN_OR_RETURN(d->images_, data::LoadFashionMnist(c.fashion_mnist_dir, data::Split::kTrain));
    MURMUR_ASSIGN_OR_RETURN(data::PartitionScheme scheme, data::ParsePartitionScheme(c.partition));
    if (scheme == data::PartitionScheme::kNatural) {
      return InvalidArgumentError("--data.partition natural needs source ids; use iid, dirichlet or shards");
    }
    data::PartitionSpec spec;
    spec.scheme = scheme;
    spec.num_clients = c.num_clients;
    spec.alpha = c.alpha;
    Rng rng(c.partition_seed);
    MURMUR_ASSIGN_OR_RETURN(data::Partition part,
                            data::MakePartition(spec, std::span<const uint8_t>(d->images_.labels),
                                                d->images_.num_classes, rng));
    d->shard_ = std::move(part.at(c.client_index));
    d->description_ = fmt::format("Fashion-MNIST shard {}/{} ({}, seed {}) from {}",
                                  c.client_index, c.num_clients, c.partition, c.partition_seed,
                                  c.fashion_mnist_dir);
  }
  if (c.limit > 0 && d->shard_.size() > c.limit) d->shard_.resize(c.limit);
  if (d->shard_.empty()) {
    return InvalidArgumentError(fmt::format("no training examples: {}", d->description_));
  }
  d->description_ += fmt::format(", {} examples", d->shard_.size());
  return d;
}

}  // namespace murmur::client
