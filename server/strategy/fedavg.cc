#include "server/strategy/fedavg.h"

#include <fmt/format.h>

#include <cmath>

#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {
namespace {

// x + eta * sum_i weights[i] * delta_i.
TensorList WeightedStep(const RoundInput& in, const std::vector<double>& weights, double eta) {
  Accumulator acc(*in.global);
  for (size_t i = 0; i < in.updates.size(); ++i) acc.Add(in.updates[i].delta, weights[i]);
  return acc.ApplyTo(*in.global, eta);
}

}  // namespace

Status FedAvgParticipants::Apply(const RoundInput& in, const StrategyState&, Step& step) const {
  const size_t m = in.updates.size();
  step.weights.assign(m, m == 0 ? 0.0 : 1.0 / static_cast<double>(m));
  if (sample_weighted_ && m > 0) {
    double total = 0;
    for (const ClientUpdate& u : in.updates) total += static_cast<double>(u.num_samples);
    if (total <= 0) {
      return InvalidArgumentError(
          "sample-weighted FedAvg needs num_samples > 0 on at least one update");
    }
    for (size_t i = 0; i < m; ++i) {
      step.weights[i] = static_cast<double>(in.updates[i].num_samples) / total;
    }
  }
  step.new_global = WeightedStep(in, step.weights, server_lr_);
  return Status();
}

Status FedAvgAll::Apply(const RoundInput& in, const StrategyState&, Step& step) const {
  // Every update's client is registered, so N > 0 whenever there is an update.
  const double n = static_cast<double>(in.all_clients.size());
  step.weights.assign(in.updates.size(), n == 0 ? 0.0 : 1.0 / n);
  step.new_global = WeightedStep(in, step.weights, server_lr_);
  return Status();
}

Status FedAvgKnownP::Apply(const RoundInput& in, const StrategyState&, Step& step) const {
  const double n = static_cast<double>(in.all_clients.size());
  step.weights.resize(in.updates.size());
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const uint64_t id = in.updates[i].client_id;
    if (in.known_participation_prob == nullptr) {
      return InvalidArgumentError(
          "fedavg_known_p needs known participation probabilities, and none were given");
    }
    auto it = in.known_participation_prob->find(id);
    if (it == in.known_participation_prob->end()) {
      return InvalidArgumentError(
          fmt::format("fedavg_known_p: no known participation probability for client {}", id));
    }
    const double p = it->second;
    if (!(std::isfinite(p) && p > 0 && p <= 1)) {
      return InvalidArgumentError(fmt::format(
          "fedavg_known_p: participation probability of client {} must be in (0, 1], got {}", id,
          p));
    }
    step.weights[i] = 1.0 / (n * p);
  }
  step.new_global = WeightedStep(in, step.weights, server_lr_);
  return Status();
}

}  // namespace murmur::server::strategy
