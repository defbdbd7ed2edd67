// ClientData: the examples a murmur-client trains on, loaded and checked at
// start: its own gzip IDX pair, its own text directory (char-level, with
// the job's vocabulary), or a shard of the installed Fashion-MNIST
// (partition scheme, client index, count, seed — every client of a trial
// uses the same seed, so the shards are disjoint). Errors name the path.
//
// Threading: immutable after Load; the Examples view points into it, so the
// object must not move (held by unique_ptr).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/daemon_config.h"
#include "common/data/image_dataset.h"
#include "common/data/text_dataset.h"
#include "common/status.h"
#include "ml/examples.h"

namespace murmur::client {

class ClientData {
 public:
  static Result<std::unique_ptr<ClientData>> Load(const DataConfig& config);

  const model::Examples& examples() const { return examples_; }
  const std::vector<uint32_t>& shard() const { return shard_; }
  std::string Describe() const { return description_; }

 private:
  ClientData() : examples_(model::Examples::Images(images_)) {}
  Status LoadText(const DataConfig& config);
  data::ImageDataset images_;
  data::TextDataset text_;
  data::TextChunks chunks_;
  model::Examples examples_;
  std::vector<uint32_t> shard_;
  std::string description_;
};

}  // namespace murmur::client
