#include "server/store/payload_segments.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace murmur::server::store {
namespace {

constexpr std::string_view kPrefix = "round-";
constexpr std::string_view kSuffix = ".seg";

// The round a segment file name stands for, or 0 when it is not ours.
uint64_t RoundOfName(const std::string& name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return 0;
  const std::string digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::strtoull(digits.c_str(), nullptr, 10);
}

}  // namespace

PayloadSegments::PayloadSegments(std::string dir, FileOps* ops)
    : dir_(std::move(dir)), ops_(OrPosix(ops)) {}

PayloadSegments::~PayloadSegments() {
  if (open_) (void)open_->Close();
}

std::string PayloadSegments::PathOf(uint64_t round) const {
  return fmt::format("{}/{}{:010}{}", dir_, kPrefix, round, kSuffix);
}

Status PayloadSegments::OpenRound(uint64_t round) {
  if (open_ && open_round_ == round) return Status();
  if (open_) (void)open_->Close();
  open_.reset();
  bool created = false;
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f,
                          ops_->OpenForAppend(PathOf(round), &created));
  if (created) {
    // The file's name must be durable before any row names it.
    Status s = ops_->SyncDir(dir_);
    if (!s.ok()) {
      (void)f->Close();
      (void)ops_->Remove(PathOf(round));
      return s;
    }
  }
  open_ = std::move(f);
  open_round_ = round;
  return Status();
}

Result<std::vector<PayloadLocation>> PayloadSegments::Append(
    const std::vector<std::pair<uint64_t, std::string_view>>& payloads) {
  std::vector<PayloadLocation> out(payloads.size());
  // Rounds in first-seen order (a batch nearly always has one).
  std::vector<uint64_t> rounds;
  for (const auto& [round, bytes] : payloads) {
    if (round == 0) return InvalidArgumentError("a buffered payload needs its round (0 given)");
    if (std::find(rounds.begin(), rounds.end(), round) == rounds.end()) rounds.push_back(round);
  }
  for (uint64_t round : rounds) {
    MURMUR_RETURN_IF_ERROR(OpenRound(round));
    const uint64_t start = open_->size();
    Status s;
    for (size_t i = 0; i < payloads.size() && s.ok(); ++i) {
      if (payloads[i].first != round) continue;
      out[i] = {round, open_->size(), payloads[i].second.size()};
      s = open_->Append(payloads[i].second);
    }
    if (s.ok()) s = open_->Sync();
    if (!s.ok()) {
      // Undo what this call wrote, then drop the handle so the next call
      // reopens the file at its real end whatever happened here.
      (void)open_->Truncate(start);
      (void)open_->Close();
      open_.reset();
      return s.WithContext(fmt::format("appending update payloads to {}", PathOf(round)));
    }
  }
  return out;
}

Result<std::string> PayloadSegments::Read(const PayloadLocation& where) const {
  return ops_->ReadRange(PathOf(where.round), where.offset, where.length);
}

void PayloadSegments::RemoveThrough(uint64_t round) {
  if (open_ && open_round_ <= round) {
    (void)open_->Close();
    open_.reset();
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const uint64_t r = RoundOfName(entry.path().filename().string());
    if (r != 0 && r <= round) (void)ops_->Remove(entry.path().string());
  }
}

}  // namespace murmur::server::store
