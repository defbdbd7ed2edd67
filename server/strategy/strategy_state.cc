#include "server/strategy/strategy_state.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"

namespace murmur::server::strategy {
namespace {

constexpr char kMagic[4] = {'M', 'R', 'S', 'S'};
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kCounterBytes = 32;
constexpr size_t kRowFixedBytes = 32;

void PutU16(std::string& out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Bounds-checked little-endian reader over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  bool U16(uint16_t* v) {
    if (remaining() < 2) return false;
    *v = static_cast<uint16_t>(Byte(0) | (Byte(1) << 8));
    pos_ += 2;
    return true;
  }
  bool U64(uint64_t* v) {
    if (remaining() < 8) return false;
    uint64_t x = 0;
    for (int i = 0; i < 8; ++i) x |= static_cast<uint64_t>(Byte(i)) << (8 * i);
    *v = x;
    pos_ += 8;
    return true;
  }
  bool Bytes(size_t n, std::string_view* v) {
    if (remaining() < n) return false;
    *v = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  uint32_t Byte(int i) const { return static_cast<unsigned char>(bytes_[pos_ + i]); }
  std::string_view bytes_;
  size_t pos_ = 0;
};

Status Truncated(std::string_view what) {
  return InvalidArgumentError(fmt::format("strategy state is truncated in {}", what));
}

}  // namespace

bool SameTensors(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape ||
        a[i].data.size() != b[i].data.size()) {
      return false;
    }
    if (!a[i].data.empty() &&
        std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

bool operator==(const TableEntry& a, const TableEntry& b) {
  if (a.round != b.round) return false;
  if (std::bit_cast<uint64_t>(a.local_lr) != std::bit_cast<uint64_t>(b.local_lr)) return false;
  if (a.value == b.value) return true;  // same pointer (or both null)
  if (a.value == nullptr || b.value == nullptr) return false;
  return SameTensors(*a.value, *b.value);
}

Result<std::string> SerializeState(const StrategyState& state) {
  if (state.strategy.size() > kMaxNameBytes) {
    return InvalidArgumentError(fmt::format("strategy name is {} bytes; the limit is {}",
                                            state.strategy.size(), kMaxNameBytes));
  }
  std::string out(kMagic, sizeof(kMagic));
  PutU16(out, kStrategyStateFormatVersion);
  PutU16(out, 0);
  PutU16(out, static_cast<uint16_t>(state.strategy.size()));
  out.append(state.strategy);
  PutU64(out, state.steps);
  PutU64(out, state.last_round);
  PutU64(out, state.fedau.size());
  for (const auto& [id, c] : state.fedau) {
    PutU64(out, id);
    PutU64(out, c.absent_run);
    PutU64(out, c.intervals);
    PutU64(out, c.interval_sum);
  }
  PutU64(out, state.table.size());
  std::string blob;
  for (const auto& [id, row] : state.table) {
    if (row.value == nullptr) {
      return InvalidArgumentError(fmt::format("table entry of client {} is empty", id));
    }
    if (!std::isfinite(row.local_lr)) {
      return InvalidArgumentError(fmt::format("table entry of client {} has local_lr {}", id,
                                              row.local_lr));
    }
    Status s = EncodeTensorsInto(*row.value, {.encoding = Encoding::kFp32}, &blob);
    if (!s.ok()) return s.WithContext(fmt::format("table entry of client {}", id));
    PutU64(out, id);
    PutU64(out, row.round);
    PutU64(out, std::bit_cast<uint64_t>(row.local_lr));
    PutU64(out, blob.size());
    out.append(blob);
  }
  PutU64(out, Xxh3(out.data(), out.size()));
  return out;
}

Result<StrategyState> ParseState(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) + 8) {
    return InvalidArgumentError(
        fmt::format("strategy state is {} bytes, too short to be one", bytes.size()));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return InvalidArgumentError("not a strategy state (bad magic)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  uint64_t stored_sum = 0;
  Reader tail(bytes.substr(bytes.size() - 8));
  tail.U64(&stored_sum);
  if (Xxh3(body.data(), body.size()) != stored_sum) {
    return DataLossError("strategy state checksum mismatch");
  }

  Reader r(body.substr(sizeof(kMagic)));
  uint16_t version = 0, flags = 0, name_len = 0;
  if (!r.U16(&version) || !r.U16(&flags) || !r.U16(&name_len)) return Truncated("the header");
  if (version != kStrategyStateFormatVersion) {
    return InvalidArgumentError(fmt::format("strategy state format {} is not supported (this "
                                            "build reads {})",
                                            version, kStrategyStateFormatVersion));
  }
  if (flags != 0) return InvalidArgumentError(fmt::format("unknown state flags {:#x}", flags));
  if (name_len > kMaxNameBytes) {
    return InvalidArgumentError(fmt::format("strategy name of {} bytes is over the limit of {}",
                                            name_len, kMaxNameBytes));
  }
  StrategyState state;
  std::string_view name;
  if (!r.Bytes(name_len, &name)) return Truncated("the strategy name");
  state.strategy = std::string(name);
  if (!r.U64(&state.steps) || !r.U64(&state.last_round)) return Truncated("the round counters");

  uint64_t num_counters = 0;
  if (!r.U64(&num_counters)) return Truncated("the FedAU counters");
  if (num_counters > r.remaining() / kCounterBytes) {
    return InvalidArgumentError(fmt::format("strategy state claims {} FedAU counters but holds "
                                            "{} bytes",
                                            num_counters, r.remaining()));
  }
  bool first = true;
  uint64_t prev_id = 0;
  for (uint64_t i = 0; i < num_counters; ++i) {
    uint64_t id = 0;
    FedAuCounter c;
    if (!r.U64(&id) || !r.U64(&c.absent_run) || !r.U64(&c.intervals) ||
        !r.U64(&c.interval_sum)) {
      return Truncated("the FedAU counters");
    }
    if (!first && id <= prev_id) {
      return InvalidArgumentError(
          fmt::format("FedAU counters are not in ascending client order at client {}", id));
    }
    // Every interval is at least one round long.
    if (c.interval_sum < c.intervals || (c.intervals == 0 && c.interval_sum != 0)) {
      return InvalidArgumentError(fmt::format(
          "FedAU counter of client {} is inconsistent: {} intervals summing to {}", id,
          c.intervals, c.interval_sum));
    }
    state.fedau.emplace_hint(state.fedau.end(), id, c);
    first = false;
    prev_id = id;
  }

  uint64_t num_rows = 0;
  if (!r.U64(&num_rows)) return Truncated("the table");
  if (num_rows > r.remaining() / kRowFixedBytes) {
    return InvalidArgumentError(fmt::format(
        "strategy state claims {} table rows but holds {} bytes", num_rows, r.remaining()));
  }
  first = true;
  std::string reencoded;
  for (uint64_t i = 0; i < num_rows; ++i) {
    uint64_t id = 0, lr_bits = 0, blob_len = 0;
    TableEntry row;
    if (!r.U64(&id) || !r.U64(&row.round) || !r.U64(&lr_bits) || !r.U64(&blob_len)) {
      return Truncated("the table");
    }
    if (!first && id <= prev_id) {
      return InvalidArgumentError(
          fmt::format("table rows are not in ascending client order at client {}", id));
    }
    row.local_lr = std::bit_cast<double>(lr_bits);
    if (!std::isfinite(row.local_lr)) {
      return InvalidArgumentError(fmt::format("table row of client {} has a non-finite local_lr",
                                              id));
    }
    std::string_view blob;
    if (blob_len > r.remaining() || !r.Bytes(blob_len, &blob)) return Truncated("a table row");
    Result<TensorList> value = DecodeTensors(blob, {.max_bytes = blob.size()});
    if (!value.ok()) {
      return InvalidArgumentError(
          value.status().WithContext(fmt::format("table row of client {}", id)).ToString());
    }
    // Only fp32 blobs are canonical (anything else would not round-trip byte-exactly).
    Status s = EncodeTensorsInto(*value, {.encoding = Encoding::kFp32}, &reencoded);
    if (!s.ok() || reencoded != blob) {
      return InvalidArgumentError(
          fmt::format("table row of client {} is not a canonical fp32 encoding", id));
    }
    row.value = std::make_shared<const TensorList>(std::move(value).value());
    state.table.emplace_hint(state.table.end(), id, std::move(row));
    first = false;
    prev_id = id;
  }
  if (r.remaining() != 0) {
    return InvalidArgumentError(
        fmt::format("strategy state has {} unexpected trailing bytes", r.remaining()));
  }
  return state;
}

}  // namespace murmur::server::strategy
