#include "server/strategy/fedau.h"

#include "server/strategy/client_tables.h"
#include "server/strategy/fedau_estimator.h"
#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status FedAu::Apply(const RoundInput& in, const StrategyState& state, Step& step) const {
  const double n = static_cast<double>(in.all_clients.size());
  Accumulator acc(*in.global);
  step.weights.resize(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const ClientUpdate& u = in.updates[i];
    // Weight from rounds < t: the counter before this round is advanced.
    step.weights[i] = FedAuWeightOf(state.fedau, u.client_id) / n;
    acc.Add(u.delta, step.weights[i]);
  }
  step.new_global = acc.ApplyTo(*in.global, server_lr_);
  step.new_state.fedau =
      FedAuAdvance(state.fedau, in.all_clients, ParticipantIds(in.updates), k_cut_);
  return Status();
}

}  // namespace murmur::server::strategy
