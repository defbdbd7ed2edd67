#include "server/strategy/fedbuff.h"

#include <algorithm>

#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Status FedBuff::Apply(const RoundInput& in, const StrategyState&, Step& step) const {
  const double b = static_cast<double>(std::max<size_t>(buffer_size_, in.updates.size()));
  Accumulator acc(*in.global);
  step.weights.resize(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    step.weights[i] = StalenessWeight(staleness_, in.updates[i].staleness) / b;
    acc.Add(in.updates[i].delta, step.weights[i]);
  }
  step.new_global = acc.ApplyTo(*in.global, server_lr_);
  return Status();
}

}  // namespace murmur::server::strategy
