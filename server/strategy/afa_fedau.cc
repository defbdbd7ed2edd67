#include "server/strategy/afa_fedau.h"

#include <map>
#include <vector>

#include "server/strategy/afa_cd.h"
#include "server/strategy/client_tables.h"
#include "server/strategy/fedau_estimator.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status AfaFedAu::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  // Pool each client's updates of this round: c_n of them share its omega_n,
  // and the normaliser W sums omega over distinct clients.
  std::map<uint64_t, uint32_t> count;  // ordered: W sums in a fixed order
  for (const ClientUpdate& u : in.updates) ++count[u.client_id];
  double total = 0;
  for (const auto& [id, c] : count) total += FedAuWeightOf(state.fedau, id);  // rounds < t
  std::vector<double> omega(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const uint64_t id = in.updates[i].client_id;
    omega[i] = FedAuWeightOf(state.fedau, id) / static_cast<double>(count.at(id));
  }
  Accumulator acc(*in.global);
  step.weights.resize(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const ClientUpdate& u = in.updates[i];
    step.weights[i] = omega[i] * StalenessWeight(staleness_, u.staleness) / total;
    acc.Add(u.delta, AfaDeltaCoefficient(step.weights[i], AfaLocalLr(local_lr_, u), u));
  }
  step.new_global = acc.ApplyTo(*in.global, server_lr_);
  step.new_state.fedau =
      FedAuAdvance(state.fedau, in.all_clients, ParticipantIds(in.updates), k_cut_);
  return Status();
}

}  // namespace murmur::server::strategy
