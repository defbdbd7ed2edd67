#include "server/store/memory_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "server/store/participation_stats.h"

namespace murmur::server::store {
namespace {

uint32_t OrDefault(uint32_t limit, uint32_t def) { return limit == 0 ? def : limit; }

}  // namespace

std::unique_ptr<InMemoryStore> InMemoryStore::Create(InMemoryStoreOptions options) {
  return std::unique_ptr<InMemoryStore>(new InMemoryStore(options));
}

Result<bool> InMemoryStore::IsEmpty() {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoints_.empty();
}

uint64_t InMemoryStore::LatestVersionLocked() const {
  return checkpoints_.empty() ? 0 : checkpoints_.rbegin()->first;
}

Status InMemoryStore::Initialize(const TensorList& model, std::string_view strategy,
                                 const JobSettings& settings, double now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!checkpoints_.empty()) {
    return FailedPreconditionError(
        fmt::format("{} already holds a model; it cannot be initialized again", Describe()));
  }
  created_at_s_ = now_s;
  strategy_ = std::string(strategy);
  strategy_version_ = 1;
  strategy_state_.clear();
  settings_ = settings;
  checkpoints_[1] = {std::make_shared<const TensorList>(model), now_s};
  return Status();
}

Status InMemoryStore::ReplaceSettings(const JobSettings& settings) {
  std::lock_guard<std::mutex> lock(mu_);
  if (checkpoints_.empty()) {
    return FailedPreconditionError(fmt::format(
        "{} holds no model yet; its job settings are saved by Initialize", Describe()));
  }
  settings_ = settings;
  return Status();
}

Result<RecoveredState> InMemoryStore::Recover(const ModelSpec& spec, uint64_t max_staleness) {
  std::lock_guard<std::mutex> lock(mu_);
  if (checkpoints_.empty()) {
    return FailedPreconditionError(
        fmt::format("{} holds no model yet; initialize it first", Describe()));
  }
  RecoveredState out;
  const auto& [version, checkpoint] = *checkpoints_.rbegin();
  out.version = version;
  if (checkpoint.model == nullptr) {
    return DataLossError(
        fmt::format("{}: the model of the latest version {} was pruned", Describe(), version));
  }
  if (Status s = CheckMatchesSpec(*checkpoint.model, spec); !s.ok()) {
    return FailedPreconditionError(fmt::format(
        "{}: the model of version {} does not match the expected model: {}", Describe(),
        version, s.message()));
  }
  out.model = *checkpoint.model;
  const uint64_t last_round = rounds_.empty() ? 1 : rounds_.rbegin()->first;
  if (last_round != out.version) {
    return DataLossError(fmt::format(
        "{}: the last round produced version {} but the last checkpoint is version {}",
        Describe(), last_round, out.version));
  }
  if (strategy_version_ != out.version) {
    return DataLossError(
        fmt::format("{}: the strategy state is for version {} but the model is version {}",
                    Describe(), strategy_version_, out.version));
  }
  out.strategy = strategy_;
  out.strategy_state = strategy_state_;
  out.settings = settings_;
  out.clients.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.clients.push_back(c);
  for (const auto& [id, payload] : buffered_) {
    const ParticipationRecord& r = participations_.at(id);
    if (!r.accepted || r.round_version != out.version + 1) {
      return DataLossError(fmt::format(
          "{}: buffered update {} is for round {} (accepted={}) but the open round is {}",
          Describe(), id, r.round_version, r.accepted, out.version + 1));
    }
    out.buffer.push_back({r, payload});
  }
  auto open = accepted_by_round_.find(out.version + 1);
  const size_t in_open = open == accepted_by_round_.end() ? 0 : open->second.size();
  if (in_open != out.buffer.size()) {
    return DataLossError(fmt::format(
        "{}: {} updates were accepted into the open round {} but {} payloads are buffered",
        Describe(), in_open, out.version + 1, out.buffer.size()));
  }
  const uint64_t oldest_base = out.version > max_staleness ? out.version - max_staleness : 0;
  for (const auto& [id, p] : participations_) {
    if (p.accepted && p.base_version >= oldest_base) {
      out.recent_accepted.push_back(
          {p.client_id, p.base_version, p.payload_checksum, p.round_version});
    }
  }
  out.next_participation_id = participations_.empty() ? 1 : participations_.rbegin()->first + 1;
  out.accepted_total = accepted_total_;
  out.rejected_total = participations_.size() - accepted_total_;
  auto round = rounds_.find(out.version);
  out.round_opened_at_s = round != rounds_.end() ? round->second.closed_at_s : created_at_s_;
  return out;
}

// The checks SQLite's constraints and the round commit's count make, over
// the store plus the batch as it would be applied in order.
Status InMemoryStore::ValidateLocked(const WriteBatch& batch) const {
  if (batch.round.has_value() && batch.round->model == nullptr) {
    return InvalidArgumentError("a round commit needs its model");
  }
  {
    std::map<std::string, std::optional<uint64_t>, std::less<>> owner;  // overlay by name
    std::map<uint64_t, std::string> name_of;                            // overlay by id
    for (const ClientRecord& c : batch.clients) {
      std::optional<uint64_t> holder;
      if (auto it = owner.find(c.name); it != owner.end()) {
        holder = it->second;
      } else if (auto jt = client_by_name_.find(c.name); jt != client_by_name_.end()) {
        holder = jt->second;
      }
      if (holder.has_value() && *holder != c.client_id) {
        return FailedPreconditionError(
            fmt::format("{}: client {} cannot take the name '{}': client {} has it", Describe(),
                        c.client_id, c.name, *holder));
      }
      std::optional<std::string> old;
      if (auto it = name_of.find(c.client_id); it != name_of.end()) {
        old = it->second;
      } else if (auto jt = clients_.find(c.client_id); jt != clients_.end()) {
        old = jt->second.name;
      }
      if (old.has_value() && *old != c.name) owner[*old] = std::nullopt;
      owner[c.name] = c.client_id;
      name_of[c.client_id] = c.name;
    }
  }
  std::set<uint64_t> new_ids;
  uint64_t accepted_into_round = 0;
  for (const ParticipationRecord& p : batch.participations) {
    if (participations_.contains(p.id) || !new_ids.insert(p.id).second) {
      return FailedPreconditionError(
          fmt::format("{}: participation {} is already recorded", Describe(), p.id));
    }
    if (batch.round.has_value() && p.accepted &&
        p.round_version == batch.round->round.version) {
      ++accepted_into_round;
    }
  }
  std::set<uint64_t> new_buffered;
  for (const auto& [id, payload] : batch.buffered_payloads) {
    if (!participations_.contains(id) && !new_ids.contains(id)) {
      return FailedPreconditionError(fmt::format(
          "{}: a payload is buffered for participation {}, which is not recorded", Describe(),
          id));
    }
    if (buffered_.contains(id) || !new_buffered.insert(id).second) {
      return FailedPreconditionError(fmt::format(
          "{}: the payload of participation {} is already buffered", Describe(), id));
    }
  }
  if (!batch.round.has_value()) return Status();
  const RoundRecord& r = batch.round->round;
  if (rounds_.contains(r.version)) {
    return FailedPreconditionError(
        fmt::format("{}: round {} is already recorded", Describe(), r.version));
  }
  if (checkpoints_.contains(r.version)) {
    return FailedPreconditionError(
        fmt::format("{}: a checkpoint of version {} is already recorded", Describe(), r.version));
  }
  auto stored = accepted_by_round_.find(r.version);
  const uint64_t recorded =
      accepted_into_round + (stored == accepted_by_round_.end() ? 0 : stored->second.size());
  if (recorded != r.num_updates || batch.round->weights.size() != r.num_updates) {
    return InternalError(fmt::format(
        "round {} closes with {} updates but {} accepted participations and {} weights are "
        "recorded for it",
        r.version, r.num_updates, recorded, batch.round->weights.size()));
  }
  return Status();
}

void InMemoryStore::ApplyLocked(const WriteBatch& batch) {
  for (ClientRecord c : batch.clients) {
    if (!c.left) c.left_at_s = 0;  // "not left" has no time, as in SQLite (NULL)
    auto it = clients_.find(c.client_id);
    if (it != clients_.end()) {
      // An update keeps when and at which version the client first registered.
      c.registered_at_s = it->second.registered_at_s;
      c.registered_version = it->second.registered_version;
      auto by_name = client_by_name_.find(it->second.name);
      if (by_name != client_by_name_.end() && by_name->second == c.client_id) {
        client_by_name_.erase(by_name);
      }
      it->second = c;
    } else {
      clients_.emplace(c.client_id, c);
    }
    client_by_name_[c.name] = c.client_id;
  }
  for (const ParticipationRecord& p : batch.participations) {
    participations_.emplace(p.id, p);
    by_client_[p.client_id].insert(p.id);
    if (p.accepted) {
      accepted_by_round_[p.round_version].insert(p.id);
      ++accepted_total_;
    }
  }
  for (const auto& [id, payload] : batch.buffered_payloads) buffered_.emplace(id, payload);
  for (const auto& [version, metrics] : batch.metrics) {
    for (const auto& [key, value] : metrics) metrics_[version][key] = value;
  }
  if (!batch.round.has_value()) return;

  const RoundCommit& rc = *batch.round;
  const uint64_t v = rc.round.version;
  RoundRecord round = rc.round;
  round.metrics.clear();  // metrics come from batch.metrics, as in SQLite
  rounds_.emplace(v, std::move(round));
  for (const auto& [id, w] : rc.weights) {
    auto it = participations_.find(id);
    if (it != participations_.end() && it->second.round_version == v && it->second.accepted) {
      it->second.weight = w;
    }
  }
  for (auto it = buffered_.begin(); it != buffered_.end();) {
    if (participations_.at(it->first).round_version == v) {
      it = buffered_.erase(it);
    } else {
      ++it;
    }
  }
  strategy_ = rc.strategy;
  strategy_version_ = v;
  strategy_state_ = rc.strategy_state;
  checkpoints_[v] = {std::make_shared<const TensorList>(*rc.model), rc.round.closed_at_s};
  const uint64_t oldest_kept = retention_.OldestNewestKept(v);
  for (auto it = checkpoints_.lower_bound(pruned_below_);
       it != checkpoints_.end() && it->first < oldest_kept; ++it) {
    if (!retention_.Keeps(it->first, v)) it->second.model.reset();
  }
  pruned_below_ = std::max(pruned_below_, oldest_kept);
}

Status InMemoryStore::Write(const WriteBatch& batch) {
  if (batch.empty()) return Status();
  std::lock_guard<std::mutex> lock(mu_);
  MURMUR_RETURN_IF_ERROR(ValidateLocked(batch));
  ApplyLocked(batch);
  return Status();
}

Result<uint64_t> InMemoryStore::LatestVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  return LatestVersionLocked();
}

Result<TensorList> InMemoryStore::LoadCheckpoint(uint64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = version == 0 ? (checkpoints_.empty() ? checkpoints_.end()
                                                 : std::prev(checkpoints_.end()))
                         : checkpoints_.find(version);
  if (it == checkpoints_.end()) {
    return NotFoundError(version == 0
                             ? fmt::format("{} holds no checkpoint", Describe())
                             : fmt::format("{} has no checkpoint of version {}", Describe(),
                                           version));
  }
  if (it->second.model == nullptr) {
    return NotFoundError(fmt::format("the checkpoint of version {} ({}) was pruned ({})",
                                     it->first, Describe(), retention_.Describe()));
  }
  return *it->second.model;
}

Result<std::vector<ParticipationRecord>> InMemoryStore::ClientHistory(uint64_t client_id,
                                                                      uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ParticipationRecord> out;
  auto ids = by_client_.find(client_id);
  if (ids == by_client_.end()) return out;
  const uint32_t n = OrDefault(limit, 100);
  for (auto it = ids->second.rbegin(); it != ids->second.rend() && out.size() < n; ++it) {
    out.push_back(participations_.at(*it));
  }
  return out;
}

Result<std::vector<ParticipationRecord>> InMemoryStore::RoundParticipants(uint64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ParticipationRecord> out;
  auto ids = accepted_by_round_.find(version);
  if (ids == accepted_by_round_.end()) return out;
  for (uint64_t id : ids->second) out.push_back(participations_.at(id));
  return out;
}

Result<std::vector<ParticipationRecord>> InMemoryStore::ListParticipations(uint64_t after_id,
                                                                           uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ParticipationRecord> out;
  for (auto it = participations_.upper_bound(after_id);
       it != participations_.end() && (limit == 0 || out.size() < limit); ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<std::vector<RoundRecord>> InMemoryStore::ListRounds(uint64_t from_version,
                                                           uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RoundRecord> out;
  const uint32_t n = OrDefault(limit, 100);
  for (auto it = rounds_.lower_bound(from_version); it != rounds_.end() && out.size() < n;
       ++it) {
    RoundRecord r = it->second;
    if (auto m = metrics_.find(r.version); m != metrics_.end()) r.metrics = m->second;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<ClientRecord>> InMemoryStore::ListClients(uint64_t after_id, uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ClientRecord> out;
  const uint32_t n = OrDefault(limit, 100);
  for (auto it = clients_.upper_bound(after_id); it != clients_.end() && out.size() < n; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::vector<ClientParticipationStats> InMemoryStore::StatsLocked(
    std::optional<uint64_t> client_id) const {
  ParticipationStatsBuilder stats(rounds_.empty() ? 1 : rounds_.rbegin()->first);
  auto add = [&](const ClientRecord& c) {
    stats.AddClient(c.client_id, c.registered_version);
    auto ids = by_client_.find(c.client_id);
    if (ids == by_client_.end()) return;
    uint64_t accepted = 0;
    std::set<uint64_t> closed_rounds;
    std::optional<double> last_weight;  // ids ascend: the last one seen wins
    for (uint64_t id : ids->second) {
      const ParticipationRecord& p = participations_.at(id);
      if (!p.accepted) continue;
      ++accepted;
      if (rounds_.contains(p.round_version)) closed_rounds.insert(p.round_version);
      if (p.weight.has_value()) last_weight = p.weight;
    }
    stats.AddCounts(c.client_id, accepted, ids->second.size() - accepted);
    for (uint64_t round : closed_rounds) stats.AddRound(c.client_id, round);
    if (last_weight.has_value()) stats.SetLastWeight(c.client_id, *last_weight);
  };
  if (client_id.has_value()) {
    if (auto it = clients_.find(*client_id); it != clients_.end()) add(it->second);
  } else {
    for (const auto& [id, c] : clients_) add(c);
  }
  return stats.Finish();
}

Result<ClientParticipationStats> InMemoryStore::ParticipationStats(uint64_t client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ClientParticipationStats> all = StatsLocked(client_id);
  if (all.empty()) return NotFoundError(fmt::format("{} has no client {}", Describe(), client_id));
  return all.front();
}

Result<std::vector<ClientParticipationStats>> InMemoryStore::AllParticipationStats() {
  std::lock_guard<std::mutex> lock(mu_);
  return StatsLocked(std::nullopt);
}

Result<std::string> InMemoryStore::IntegrityCheck() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> problems;
  if (!checkpoints_.empty()) {
    const uint64_t latest = LatestVersionLocked();
    if (checkpoints_.rbegin()->second.model == nullptr) {
      problems.push_back(fmt::format("the model of the latest version {} is missing", latest));
    }
    if (strategy_version_ != latest) {
      problems.push_back(fmt::format("the strategy state is for version {} but the model is {}",
                                     strategy_version_, latest));
    }
    for (const auto& [id, payload] : buffered_) {
      const ParticipationRecord& p = participations_.at(id);
      if (!p.accepted || p.round_version != latest + 1) {
        problems.push_back(fmt::format("buffered update {} is not in the open round {}", id,
                                       latest + 1));
      }
    }
  }
  for (const auto& [v, r] : rounds_) {
    if (!checkpoints_.contains(v)) {
      problems.push_back(fmt::format("round {} has no checkpoint", v));
    }
    auto ids = accepted_by_round_.find(v);
    const size_t n = ids == accepted_by_round_.end() ? 0 : ids->second.size();
    if (n != r.num_updates) {
      problems.push_back(
          fmt::format("round {} has {} updates but {} are recorded", v, r.num_updates, n));
    }
  }
  for (const auto& [name, id] : client_by_name_) {
    auto it = clients_.find(id);
    if (it == clients_.end() || it->second.name != name) {
      problems.push_back(fmt::format("the name '{}' points at client {}, which has another name",
                                     name, id));
    }
  }
  if (problems.empty()) return std::string("ok");
  std::string out;
  for (const std::string& p : problems) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

}  // namespace murmur::server::store
