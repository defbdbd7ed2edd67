#include "server/strategy/strategy.h"

#include <fmt/format.h>

#include <cmath>
#include <unordered_set>

#include "server/strategy/tensor_math.h"

namespace murmur::server::strategy {

Strategy::~Strategy() = default;

Result<Step> Strategy::Aggregate(const RoundInput& in, const StrategyState& state) const {
  if (in.global == nullptr) return InvalidArgumentError("no global model was given");
  const TensorList& x = *in.global;
  const ModelSpec spec = SpecOf(x);
  MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(x, spec).WithContext("global model"));
  MURMUR_RETURN_IF_ERROR(CheckFinite(x, "global model"));

  if (!state.strategy.empty() && state.strategy != name()) {
    return FailedPreconditionError(fmt::format(
        "the state was written by strategy '{}' and cannot be used by '{}'", state.strategy,
        name()));
  }
  if (state.steps > 0 && in.round <= state.last_round) {
    return FailedPreconditionError(fmt::format(
        "round {} is not after round {}, the last one applied to this state (replayed or "
        "out-of-order round)",
        in.round, state.last_round));
  }
  for (const auto& [id, row] : state.table) {
    if (row.value == nullptr) {
      return FailedPreconditionError(fmt::format("state table entry of client {} is empty", id));
    }
    Status s = CheckMatchesSpec(*row.value, spec);
    if (!s.ok()) {
      return FailedPreconditionError(fmt::format(
          "state table entry of client {} does not match the model: {}", id, s.message()));
    }
  }

  const StrategyNeeds needs = this->needs();
  std::unordered_set<uint64_t> registered;
  if (needs.all_clients) {
    registered.reserve(in.all_clients.size());
    for (uint64_t id : in.all_clients) {
      if (!registered.insert(id).second) {
        return InvalidArgumentError(
            fmt::format("client {} appears more than once in the registered clients", id));
      }
    }
  }
  std::unordered_set<uint64_t> seen;
  for (size_t i = 0; i < in.updates.size(); ++i) {
    const ClientUpdate& u = in.updates[i];
    const std::string what = fmt::format("update {} (client {})", i, u.client_id);
    MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(u.delta, spec).WithContext(what));
    if (!in.deltas_checked_finite) MURMUR_RETURN_IF_ERROR(CheckFinite(u.delta, what));
    if (u.local_steps == 0) {
      return InvalidArgumentError(fmt::format("{}: local_steps K must be > 0", what));
    }
    if (needs.local_lr && !(std::isfinite(u.local_lr) && u.local_lr > 0)) {
      return InvalidArgumentError(fmt::format(
          "{}: local_lr must be finite and > 0 for {}, got {}", what, name(), u.local_lr));
    }
    if (needs.all_clients && !registered.contains(u.client_id)) {
      return InvalidArgumentError(fmt::format(
          "{}: client {} is not among the {} registered clients", what, u.client_id,
          in.all_clients.size()));
    }
    if (!seen.insert(u.client_id).second && needs.one_update_per_client) {
      return InvalidArgumentError(fmt::format(
          "{}: client {} has more than one update in this round, which {} does not allow", what,
          u.client_id, name()));
    }
  }

  Step step;
  step.new_state = state;
  step.new_state.strategy = std::string(name());
  step.new_state.steps = state.steps + 1;
  step.new_state.last_round = in.round;
  MURMUR_RETURN_IF_ERROR(Apply(in, state, step));

  if (step.weights.size() != in.updates.size()) {
    return InternalError(fmt::format("{} returned {} weights for {} updates", name(),
                                     step.weights.size(), in.updates.size()));
  }
  MURMUR_RETURN_IF_ERROR(CheckMatchesSpec(step.new_global, spec)
                             .WithContext(fmt::format("{} produced a model that", name())));
  Status finite = CheckFinite(step.new_global, "new global model");
  if (!finite.ok()) {
    return OutOfRangeError(finite.message() +
                           " (the aggregate overflowed float; lower the server learning rate)");
  }
  return step;
}

}  // namespace murmur::server::strategy
