#include "server/strategy/afa_fedau.h"

#include "server/strategy/afa_cd.h"
#include "server/strategy/client_tables.h"
#include "server/strategy/fedau_estimator.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status AfaFedAu::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  std::vector<double> omega(in.updates.size());
  double total = 0;
  for (size_t i = 0; i < in.updates.size(); ++i) {
    omega[i] = FedAuWeightOf(state.fedau, in.updates[i].client_id);  // from rounds < t
    total += omega[i];
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
