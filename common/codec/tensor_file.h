// Named-tensor files: a TensorList on disk, in the murmur tensor codec format
// (common/codec/tensor_codec.h), for model checkpoints, exported weights and
// initial weights. The file IS one encoded payload: "MRMT" header, the
// tensors (name, shape, values), an XXH3-64 checksum. Loading it from Python
// takes a dozen lines of numpy (ml/README.md).
//
// Writes are atomic: the bytes go to "<path>.tmp.<random>" in the same
// directory, are fsync'ed, then renamed over `path` (and the directory is
// fsync'ed), so a reader sees the old file or the new one, never a torn one.
//
// Threading: plain functions; concurrent writers to one path each leave a
// complete file (the last rename wins).
#pragma once

#include <string>

#include "common/codec/tensor.h"
#include "common/codec/tensor_codec.h"
#include "common/status.h"

namespace murmur {

// Encodes `tensors` (fp32 by default; values must be finite) and writes them
// atomically. Errors name the path.
Status WriteTensorFile(const std::string& path, const TensorList& tensors,
                       Encoding encoding = Encoding::kFp32);

// Reads and decodes a file written by WriteTensorFile (any encoding; values
// come back as fp32). With `expected` set, the names and shapes must match
// it exactly, in order. Errors name the path: NotFound when it is missing,
// InvalidArgument/DataLoss when it is not a valid, intact tensor file,
// FailedPrecondition when it holds a different model.
Result<TensorList> ReadTensorFile(const std::string& path, const ModelSpec* expected = nullptr);

}  // namespace murmur
