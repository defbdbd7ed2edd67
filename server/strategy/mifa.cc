#include "server/strategy/mifa.h"

#include "server/strategy/client_tables.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status Mifa::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  const double n = static_cast<double>(in.all_clients.size());
  std::map<uint64_t, TableEntry> table = KeepRegistered(state.table, in.all_clients);
  for (const ClientUpdate& u : in.updates) {
    table[u.client_id] = MakeEntry(u.delta, u.local_lr, in.round);
  }
  step.weights.assign(in.updates.size(), n == 0 ? 0.0 : 1.0 / n);
  Accumulator acc(*in.global);
  for (const auto& [id, row] : table) acc.Add(*row.value, 1.0 / n);
  step.new_global = acc.ApplyTo(*in.global, server_lr_);
  step.new_state.table = std::move(table);
  return Status();
}

}  // namespace murmur::server::strategy
