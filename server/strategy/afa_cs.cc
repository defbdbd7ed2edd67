#include "server/strategy/afa_cs.h"

#include <fmt/format.h>

#include <unordered_map>

#include "server/strategy/client_tables.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Result<AfaCsWarmup> ParseAfaCsWarmup(std::string_view name) {
  if (name == "all") return AfaCsWarmup::kAllRegistered;
  if (name == "seen") return AfaCsWarmup::kSeen;
  return InvalidArgumentError(
      fmt::format("unknown AFA-CS warm-up policy '{}' (expected all or seen)", name));
}

Status AfaCs::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  std::map<uint64_t, TableEntry> table = KeepRegistered(state.table, in.all_clients);
  std::unordered_map<uint64_t, size_t> last_update_of;  // client -> index of its last update
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const ClientUpdate& u = in.updates[i];
    const double normalizer = u.local_lr * static_cast<double>(u.local_steps);
    table[u.client_id] = MakeEntry(Scaled(u.delta, -1.0 / normalizer), u.local_lr, in.round);
    last_update_of[u.client_id] = i;
  }

  const double d = static_cast<double>(warmup_ == AfaCsWarmup::kAllRegistered
                                           ? in.all_clients.size()
                                           : table.size());
  step.weights.assign(in.updates.size(), 0.0);
  for (const auto& [id, i] : last_update_of) step.weights[i] = 1.0 / d;

  Accumulator acc(*in.global);
  for (const auto& [id, row] : table) {
    const double eta_l = local_lr_ > 0 ? local_lr_ : row.local_lr;
    acc.Add(*row.value, eta_l / d);
  }
  step.new_global = acc.ApplyTo(*in.global, -server_lr_);
  step.new_state.table = std::move(table);
  return Status();
}

}  // namespace murmur::server::strategy
