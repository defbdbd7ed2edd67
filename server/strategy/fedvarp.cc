#include "server/strategy/fedvarp.h"

#include "server/strategy/client_tables.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status FedVarp::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  const double n = static_cast<double>(in.all_clients.size());
  const double s = static_cast<double>(in.updates.size());
  std::map<uint64_t, TableEntry> table = KeepRegistered(state.table, in.all_clients);
  if (in.updates.empty()) {
    // No participants: the reference takes no step (and nothing to record).
    step.new_global = *in.global;
    step.new_state.table = std::move(table);
    return Status();
  }

  Accumulator acc(*in.global);
  for (const auto& [id, row] : table) acc.Add(*row.value, 1.0 / n);  // old y_j
  step.weights.assign(in.updates.size(), 1.0 / s);
  for (const ClientUpdate& u : in.updates) {
    acc.Add(u.delta, 1.0 / s);
    auto it = table.find(u.client_id);
    if (it != table.end()) acc.Add(*it->second.value, -1.0 / s);  // old y_i
  }
  step.new_global = acc.ApplyTo(*in.global, server_lr_);

  for (const ClientUpdate& u : in.updates) {
    table[u.client_id] = MakeEntry(u.delta, u.local_lr, in.round);
  }
  step.new_state.table = std::move(table);
  return Status();
}

}  // namespace murmur::server::strategy
