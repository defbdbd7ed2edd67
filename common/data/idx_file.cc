#include "common/data/idx_file.h"

#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/data/gzip_reader.h"

namespace murmur::data {
namespace {

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
         uint32_t{p[3]};
}

}  // namespace

Result<IdxArray> ReadIdxGz(const std::string& path, int ndims,
                           const IdxLimits& limits) {
  if (ndims < 1 || ndims > 4) {
    return InvalidArgumentError(
        fmt::format("{}: asked for an IDX array of {} dimensions; 1..4 supported",
                    path, ndims));
  }
  MURMUR_ASSIGN_OR_RETURN(GzipReader in, GzipReader::Open(path));

  std::array<uint8_t, 4> magic_bytes{};
  MURMUR_RETURN_IF_ERROR(in.ReadExact(magic_bytes, "the IDX magic number"));
  const uint32_t magic = BigEndian32(magic_bytes.data());
  const uint32_t expected = 0x00000800u | static_cast<uint32_t>(ndims);
  if (magic != expected) {
    std::string hint;
    if ((magic >> 16) != 0) {
      hint = " (not an IDX file)";
    } else if (((magic >> 8) & 0xff) != kIdxTypeUnsignedByte) {
      hint = fmt::format(" (element type 0x{:02x}; only unsigned byte 0x08 is supported)",
                         (magic >> 8) & 0xff);
    } else {
      hint = fmt::format(" (an IDX array of {} dimensions, expected {})", magic & 0xff,
                         ndims);
    }
    return DataLossError(fmt::format("{}: bad IDX magic 0x{:08x}, expected 0x{:08x}{}",
                                     path, magic, expected, hint));
  }

  std::vector<uint8_t> header(4 * static_cast<size_t>(ndims));
  MURMUR_RETURN_IF_ERROR(in.ReadExact(header, "the IDX dimensions"));
  IdxArray out;
  out.dims.resize(static_cast<size_t>(ndims));
  bool any_zero = false;
  for (int i = 0; i < ndims; ++i) {
    out.dims[static_cast<size_t>(i)] = BigEndian32(header.data() + 4 * i);
    any_zero |= out.dims[static_cast<size_t>(i)] == 0;
  }
  uint64_t total = any_zero ? 0 : 1;
  bool overflow = false;
  for (const uint32_t d : out.dims) {
    if (any_zero) break;
    if (total > limits.max_bytes / d) {
      overflow = true;
      break;
    }
    total *= d;
  }
  const std::string shape = fmt::format("[{}]", fmt::join(out.dims, ", "));
  if (overflow || total > limits.max_bytes) {
    return ResourceExhaustedError(fmt::format(
        "{}: IDX header claims shape {} ({} bytes), over the {}-byte limit", path,
        shape, overflow ? std::string("too many") : std::to_string(total),
        limits.max_bytes));
  }
  if (total > in.MaxPlausibleBytes()) {
    return DataLossError(fmt::format(
        "{}: IDX header claims shape {} ({} bytes), more than a {}-byte gzip file "
        "can hold; the header is corrupt",
        path, shape, total, in.compressed_size()));
  }

  out.data.resize(static_cast<size_t>(total));
  MURMUR_RETURN_IF_ERROR(
      in.ReadExact(out.data, fmt::format("IDX payload of shape {}", shape)));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return out;
}

}  // namespace murmur::data
