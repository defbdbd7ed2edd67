#include "server/job_settings.h"

#include <fmt/format.h>

#include <vector>

#include "server/strategy/staleness.h"

namespace murmur::server {
namespace {

std::string Num(double v) { return fmt::format("{:.17g}", v); }
std::string Num(uint64_t v) { return fmt::format("{}", v); }
std::string Bool(bool v) { return v ? "true" : "false"; }

}  // namespace

JobSettingsMap JobSettingsOf(const EngineConfig& c) {
  const strategy::StrategyConfig& s = c.strategy;
  JobSettingsMap m;
  m["mode"] = std::string(RoundModeName(c.mode));
  m["updates_per_round"] = Num(uint64_t{c.updates_per_round});
  m["round_deadline_s"] = Num(c.round_deadline_s);
  m["close_empty_rounds"] = Bool(c.close_empty_rounds);
  m["max_staleness"] = Num(MaxStaleness(c));
  m["max_update_norm"] = Num(c.max_update_norm);
  m["max_update_bytes"] = Num(uint64_t{c.max_update_bytes});
  m["model_encoding"] = std::string(EncodingName(c.model_encoding));
  m["recipe.local_lr"] = Num(c.recipe.local_lr);
  m["recipe.batch_size"] = Num(uint64_t{c.recipe.batch_size});
  m["recipe.min_local_steps"] = Num(uint64_t{c.recipe.min_local_steps});
  m["recipe.max_local_steps"] = Num(uint64_t{c.recipe.max_local_steps});
  m["recipe.update_encoding"] = std::string(EncodingName(c.recipe.update_encoding));
  // Listed only when not plain SGD, so the state of a job saved before the
  // optimizer was a setting still matches an SGD restart.
  if (c.recipe.optimizer != "sgd") m["recipe.optimizer"] = c.recipe.optimizer;
  if (c.recipe.optimizer == "momentum") m["recipe.momentum"] = Num(c.recipe.momentum);
  m["strategy"] = s.name;
  m["strategy.server_lr"] = Num(s.server_lr);
  m["strategy.sample_weighted"] = Bool(s.sample_weighted);
  m["strategy.fedau_k_cut"] = s.fedau_k_cut == 0 ? "inf" : Num(s.fedau_k_cut);
  m["strategy.afa_local_lr"] = Num(s.afa_local_lr);
  m["strategy.staleness"] = std::string(strategy::StalenessKindName(s.staleness.kind));
  m["strategy.staleness_a"] = Num(s.staleness.a);
  m["strategy.staleness_b"] = Num(s.staleness.b);
  m["strategy.fedbuff_buffer_size"] =
      Num(uint64_t{s.fedbuff_buffer_size != 0 ? s.fedbuff_buffer_size : c.updates_per_round});
  m["strategy.afa_cs_warmup"] =
      s.afa_cs_warmup == strategy::AfaCsWarmup::kSeen ? "seen" : "all_registered";
  std::vector<std::string> known;
  for (const auto& [name, p] : c.known_p_by_name) known.push_back(fmt::format("{}={}", name, Num(p)));
  if (!known.empty()) m["known_p_by_name"] = fmt::format("{}", fmt::join(known, ","));
  std::map<uint64_t, double> by_id(c.known_participation_prob.begin(),
                                   c.known_participation_prob.end());
  known.clear();
  for (const auto& [id, p] : by_id) known.push_back(fmt::format("{}={}", id, Num(p)));
  if (!known.empty()) m["known_p_by_id"] = fmt::format("{}", fmt::join(known, ","));
  return m;
}

Status CompareJobSettings(const JobSettingsMap& saved, const JobSettingsMap& current) {
  std::vector<std::string> diffs;
  auto shown = [](const JobSettingsMap& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? std::string("(unset)") : "'" + it->second + "'";
  };
  std::map<std::string, bool> keys;
  for (const auto& [k, v] : saved) keys[k] = true;
  for (const auto& [k, v] : current) keys[k] = true;
  for (const auto& [k, unused] : keys) {
    auto a = saved.find(k), b = current.find(k);
    const bool same = a != saved.end() && b != current.end() && a->second == b->second;
    if (!same) {
      diffs.push_back(fmt::format("{}: saved {}, now {}", k, shown(saved, k), shown(current, k)));
    }
  }
  if (diffs.empty()) return Status();
  return FailedPreconditionError(fmt::format(
      "the job's settings differ from those saved with its state ({}); restart with the saved "
      "settings, or pass --allow-settings-change to continue with the new ones",
      fmt::join(diffs, "; ")));
}

}  // namespace murmur::server
