// IDX files: the array format of MNIST and Fashion-MNIST, read from gzip.
//
// An IDX file is a 4-byte big-endian magic (two zero bytes, a type code, the
// number of dimensions), one big-endian uint32 per dimension, then the
// elements in row-major order. Only the unsigned-byte type (0x08) is
// supported: it is the only one the image datasets use. So the magic is
// 0x00000800 + ndims: 0x00000803 for images [n, rows, cols], 0x00000801 for
// labels [n].
//
// ReadIdxGz validates the magic and the header before allocating (the payload
// must fit in IdxLimits::max_bytes and be something the compressed file could
// actually hold), reads exactly the payload, and rejects trailing bytes. Every
// error names the path.
//
// Threading: plain functions over their arguments; safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace murmur::data {

inline constexpr uint8_t kIdxTypeUnsignedByte = 0x08;
inline constexpr uint32_t kIdxMagicImages = 0x00000803;  // ubyte, 3 dims
inline constexpr uint32_t kIdxMagicLabels = 0x00000801;  // ubyte, 1 dim

// An unsigned-byte IDX array.
struct IdxArray {
  std::vector<uint32_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;   // product(dims) elements, row-major
};

struct IdxLimits {
  // Payloads larger than this are refused before anything is allocated.
  uint64_t max_bytes = uint64_t{1} << 31;
};

// Reads a gzip-compressed unsigned-byte IDX file with `ndims` dimensions
// (1..4). NotFound for a missing file; DataLoss for a file that is not gzip,
// has the wrong magic, a corrupt or truncated stream, an implausible header,
// or bytes after the payload; ResourceExhausted over limits.max_bytes.
Result<IdxArray> ReadIdxGz(const std::string& path, int ndims,
                           const IdxLimits& limits = {});

}  // namespace murmur::data
