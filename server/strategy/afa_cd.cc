#include "server/strategy/afa_cd.h"

#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status AfaCd::Apply(const RoundInput& in, const StrategyState&, Step& step) const {
  const double m = static_cast<double>(in.updates.size());
  Accumulator acc(*in.global);
  step.weights.resize(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const ClientUpdate& u = in.updates[i];
    step.weights[i] = StalenessWeight(staleness_, u.staleness) / m;
    acc.Add(u.delta, AfaDeltaCoefficient(step.weights[i], AfaLocalLr(local_lr_, u), u));
  }
  step.new_global = acc.ApplyTo(*in.global, server_lr_);
  return Status();
}

}  // namespace murmur::server::strategy
