// Durable files: write-then-rename with fsyncs, and reads whose errors name
// the file. Used for model checkpoints, which live beside the database as
// tensor-codec files (fp32, so a reload is bit-exact).
//
// WriteFileAtomically(path, bytes):
//   write `path`.tmp, fsync it, rename it over `path`, fsync the directory.
// After it returns OK the file survives a crash (kill -9 or power loss) with
// exactly `bytes`; a crash before that leaves either the old file or none,
// never a torn one (a stale .tmp may remain and is overwritten next time).
//
// Pure functions, safe from any thread (distinct paths).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/codec/tensor.h"
#include "common/status.h"

namespace murmur::server::store {

Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// NOT_FOUND (missing) or INTERNAL (unreadable), naming the file.
Result<std::string> ReadWholeFile(const std::string& path);

// Creates the directory (and parents) if missing.
Status MakeDirs(const std::string& dir);

// A model checkpoint: the fp32 encoding of `model` and its XXH3-64.
struct EncodedCheckpoint {
  std::string bytes;
  uint64_t checksum = 0;
};
Result<EncodedCheckpoint> EncodeCheckpoint(const TensorList& model);

// Reads and verifies a checkpoint written by EncodeCheckpoint: the file must
// exist, hash to `expected_checksum` and decode against `spec` (when given).
// Every error names the file and says what was wrong.
Result<TensorList> ReadCheckpoint(const std::string& path, uint64_t expected_checksum,
                                  const ModelSpec* spec);

}  // namespace murmur::server::store
