#include "client/runtime/outbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "client/runtime/atomic_file.h"
#include "common/checksum.h"
#include "common/logging.h"

namespace murmur::client {
namespace {

constexpr std::string_view kMagic = "MRMOUTB1";
constexpr std::string_view kSuffix = ".update";

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetLe(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

}  // namespace

std::string Outbox::Encode(const api::UpdateToPush& u, double created_s) {
  const nlohmann::json h = {{"base_version", u.base_version},
                            {"local_steps", u.local_steps},
                            {"num_samples", u.num_samples},
                            {"mean_loss", u.mean_loss},
                            {"train_seconds", u.train_seconds},
                            {"encoding", std::string(EncodingName(u.encoding))},
                            {"created_s", created_s}};
  const std::string header = h.dump();
  std::string out(kMagic);
  PutLe(out, header.size(), 4);
  out += header;
  out += u.payload;
  PutLe(out, Xxh3(out), 8);
  return out;
}

Result<OutboxEntry> Outbox::Decode(std::string_view bytes, const std::string& id) {
  if (bytes.size() < kMagic.size() + 4 + 8 || bytes.substr(0, kMagic.size()) != kMagic) {
    return DataLossError(fmt::format("outbox entry {}: not an outbox file (bad magic or too short)", id));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Xxh3(body) != GetLe(bytes.substr(bytes.size() - 8), 8)) {
    return DataLossError(fmt::format("outbox entry {}: checksum mismatch (torn write)", id));
  }
  const uint64_t hlen = GetLe(body.substr(kMagic.size()), 4);
  if (kMagic.size() + 4 + hlen > body.size()) {
    return DataLossError(fmt::format("outbox entry {}: header length {} past the end", id, hlen));
  }
  const std::string_view header = body.substr(kMagic.size() + 4, hlen);
  nlohmann::json h = nlohmann::json::parse(header, nullptr, false);
  if (h.is_discarded() || !h.is_object()) {
    return DataLossError(fmt::format("outbox entry {}: header is not JSON", id));
  }
  OutboxEntry e;
  e.id = id;
  try {
    e.created_s = h.at("created_s").get<double>();
    e.update.base_version = h.at("base_version").get<uint64_t>();
    e.update.local_steps = h.at("local_steps").get<uint32_t>();
    e.update.num_samples = h.at("num_samples").get<uint64_t>();
    e.update.mean_loss = h.at("mean_loss").get<double>();
    e.update.train_seconds = h.at("train_seconds").get<double>();
    MURMUR_ASSIGN_OR_RETURN(e.update.encoding,
                            ParseEncoding(h.at("encoding").get<std::string>()));
  } catch (const nlohmann::json::exception& ex) {
    return DataLossError(fmt::format("outbox entry {}: {}", id, ex.what()));
  }
  e.update.payload = std::string(body.substr(kMagic.size() + 4 + hlen));
  return e;
}

Result<std::string> Outbox::Put(const api::UpdateToPush& update, double created_s) {
  static std::atomic<uint32_t> seq{0};
  const auto ms = static_cast<uint64_t>(std::llround(created_s * 1000));
  const std::string id = fmt::format("{:017}-{:03}-v{}{}", ms, seq++ % 1000, update.base_version, kSuffix);
  MURMUR_RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + id, Encode(update, created_s)));
  return id;
}

Result<std::vector<OutboxEntry>> Outbox::List() const {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (IsTempFileName(name) || !name.ends_with(kSuffix)) continue;
    names.push_back(name);
  }
  if (ec) return UnavailableError(fmt::format("cannot list outbox {}: {}", dir_, ec.message()));
  std::sort(names.begin(), names.end());
  std::vector<OutboxEntry> out;
  for (const auto& name : names) {
    MURMUR_ASSIGN_OR_RETURN(std::optional<std::string> bytes, ReadFileIfExists(dir_ + "/" + name));
    if (!bytes) continue;
    Result<OutboxEntry> entry = Decode(*bytes, name);
    if (!entry.ok()) {
      log::Warn("outbox entry skipped", {{"path", dir_ + "/" + name},
                                         {"error", entry.status().ToString()}});
      continue;
    }
    out.push_back(std::move(*entry));
  }
  return out;
}

Result<std::vector<OutboxSummary>> Outbox::Summarize() const {
  MURMUR_ASSIGN_OR_RETURN(std::vector<OutboxEntry> entries, List());
  std::vector<OutboxSummary> out;
  for (const auto& e : entries) {
    out.push_back({e.id, e.created_s, e.update.base_version, e.update.local_steps,
                   e.update.payload.size()});
  }
  return out;
}

Status Outbox::Remove(const std::string& id) {
  std::error_code ec;
  std::filesystem::remove(dir_ + "/" + id, ec);
  if (ec) return UnavailableError(fmt::format("cannot remove outbox entry {}/{}: {}", dir_, id, ec.message()));
  return Status::Ok();
}

}  // namespace murmur::client
