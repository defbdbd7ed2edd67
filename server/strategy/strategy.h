// Strategy: one aggregation rule of federated learning, as a pure function.
//
// A strategy turns (global model x_t, the updates that closed round t, the
// strategy's persisted state) into (x_{t+1}, the new state). It never touches
// a socket, a file or a clock, and it keeps nothing between calls: whatever
// it must remember (FedAU counters, MIFA/FedVARP/AFA-CS tables) travels in
// StrategyState, which the caller persists (SerializeState) and hands back
// next round. Out-of-order or replayed rounds are therefore the caller's
// choice, never hidden in fields.
//
// How the round engine calls it:
//   Result<std::unique_ptr<Strategy>> s = MakeStrategy(cfg);   // once
//   RoundInput in{.round = t, .global = &x, .updates = closed, .all_clients = ids};
//   Result<Step> step = (*s)->Aggregate(in, state);            // each round
//   if ok: x = step->new_global; state = step->new_state; record step->weights.
// A round with no updates is legal: the model stays, counters still advance
// (for FedAU every registered client was absent that round).
//
// Aggregate() validates everything before any arithmetic (model and delta
// names/shapes, finite values, K > 0, local_lr > 0 where used, client ids
// known and unique where the rule needs it, state written by this strategy,
// rounds strictly increasing) and says what was wrong. Arithmetic is done in
// double; tensors are stored as float. The input model is never modified.
//
// Threading: a Strategy holds only its immutable configuration; Aggregate is
// a pure function, safe to call from any thread concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/codec/tensor.h"
#include "common/status.h"
#include "server/strategy/strategy_state.h"

namespace murmur::server::strategy {

// One update that closed into this round.
struct ClientUpdate {
  uint64_t client_id = 0;
  TensorList delta;          // y_K - x_base: the client's model after K local steps minus its start
  uint32_t local_steps = 0;  // K (> 0)
  uint64_t num_samples = 0;  // for sample-weighted FedAvg
  uint64_t base_version = 0; // version b the client started from
  uint64_t staleness = 0;    // tau = current version - b
  double local_lr = 0;       // the client's local learning rate (AFA strategies need it > 0)
};

struct RoundInput {
  uint64_t round = 0;                 // strictly increasing across calls on one state
  const TensorList* global = nullptr; // x_t; read only
  std::span<const ClientUpdate> updates;
  // Every registered client id (N = size): FedAvg-over-all, known-p, FedAU, MIFA,
  // FedVARP, AFA-CS and AFA+FedAU need it. Per-client state of ids absent from
  // this list (clients that left) is dropped.
  std::span<const uint64_t> all_clients;
  // FedAvg with known participation probabilities: p_n in (0, 1] per client.
  const std::unordered_map<uint64_t, double>* known_participation_prob = nullptr;
  // The caller already checked every delta's values are finite (the engine
  // does, when it decodes each update): Aggregate skips that pass over the
  // m deltas. Shapes are still checked (cheap).
  bool deltas_checked_finite = false;
};

// What a strategy needs from its caller: the one public place that says so.
// Aggregate() validates its input against it; the round engine and the
// config checks ask it instead of keeping lists of strategy names.
struct StrategyNeeds {
  // RoundInput::all_clients must list every registered client, and every
  // update must come from one of them.
  bool all_clients = false;
  // At most one update per client per round (a second one is an error here;
  // the engine rejects it as a duplicate).
  bool one_update_per_client = false;
  // Every update's local_lr must be finite and > 0 (the AFA normalisation).
  bool local_lr = false;
  // The state keeps a model-sized row per client (O(N*d) memory, persisted).
  bool per_client_tables = false;
  // RoundInput::known_participation_prob must give p_n for every participant.
  bool known_participation_prob = false;
};

struct Step {
  TensorList new_global;  // x_{t+1}
  StrategyState new_state;
  // weights[i]: the coefficient the rule put on updates[i]'s own contribution
  // to the aggregated direction, before the server rate eta (and, for the AFA
  // rules, before eta_L): delta rules step by eta * (sum_i weights[i] *
  // delta_i + table terms); AFA rules use G = sum_i weights[i] * G_i + table
  // terms. Same order as RoundInput::updates; recorded in history.
  std::vector<double> weights;
};

class Strategy {
 public:
  virtual ~Strategy();

  // The config name: "fedau", "afa_cd", ...
  virtual std::string_view name() const = 0;

  // What this rule needs from its caller; constant for a strategy object.
  virtual StrategyNeeds needs() const = 0;

  // Validates `in` and `state`, then applies the rule. Non-virtual so every
  // strategy gets the same checks and the same bookkeeping of the state
  // (strategy name, round, step count).
  Result<Step> Aggregate(const RoundInput& in, const StrategyState& state) const;

 protected:
  // The rule itself, on validated input. `step.new_state` arrives as a copy
  // of `state` with the bookkeeping already updated; `step.new_global` is
  // empty and must be filled.
  virtual Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const = 0;
};

}  // namespace murmur::server::strategy
