// Durable files: write-then-rename with fsyncs, and reads whose errors name
// the file. Used for model checkpoints, which live beside the database as
// tensor-codec files (fp32, so a reload is bit-exact).
//
// WriteFileAtomically(path, bytes):
//   create `path`.tmp, write it, fsync it, close it, rename it over `path`,
//   fsync the directory: exactly this order (a test records it through a
//   FileOps, file_ops.h).
// After it returns OK the file survives a crash (kill -9 or power loss) with
// exactly `bytes`; a crash before that leaves either the old file or none,
// never a torn one (a stale .tmp may remain and is overwritten next time).
//
// Every function takes the FileOps to use (nullptr: the real file system).
// Pure functions, safe from any thread (distinct paths).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/codec/tensor.h"
#include "common/status.h"
#include "server/store/file_ops.h"

namespace murmur::server::store {

Status WriteFileAtomically(const std::string& path, std::string_view bytes,
                           FileOps* ops = nullptr);

// NOT_FOUND (missing) or INTERNAL (unreadable), naming the file.
Result<std::string> ReadWholeFile(const std::string& path, FileOps* ops = nullptr);

// Creates the directory (and parents) if missing.
Status MakeDirs(const std::string& dir, FileOps* ops = nullptr);

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
                                  const ModelSpec* spec, FileOps* ops = nullptr);

}  // namespace murmur::server::store
