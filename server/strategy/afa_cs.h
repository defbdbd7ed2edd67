// AFA-CS: Anarchic Federated Averaging, cross-silo (Yang et al., ICML 2022).
// The server remembers the latest step-normalized update of every worker, so
// biased arrivals (eager workers reporting more often) do not bias the step.
//
//   on arrival:  G_i = -delta_i / (local_lr_i * K_i) overwrites worker i's
//                table entry (stored as float with local_lr_i; later arrivals
//                of the same worker in one round win)
//   G = (1/D) * sum_{j registered, in table} eta_L_j * G_j
//   x_{t+1} = x_t - eta * G
// eta_L_j: the configured eta_L, or (configured 0, the default) the local_lr
// stored with worker j's entry. The step uses the stored float G_j for every
// worker, new arrivals included, so a restart from the persisted table takes
// exactly the same step.
// Warm-up policy (the paper starts from a zero table):
//   kAllRegistered  D = M, all registered workers; unseen workers count as 0
//   kSeen           D = number of registered workers with an entry
// weights[i] = 1/D for an update whose G_i is in the table, 0 for one
// overwritten by a later arrival of the same worker in this round. An empty
// round still steps with the table. Entries of workers no longer registered
// are dropped.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

enum class AfaCsWarmup { kAllRegistered, kSeen };

// "all" or "seen".
Result<AfaCsWarmup> ParseAfaCsWarmup(std::string_view name);

class AfaCs final : public Strategy {
 public:
  AfaCs(double server_lr, double local_lr, AfaCsWarmup warmup)
      : server_lr_(server_lr), local_lr_(local_lr), warmup_(warmup) {}
  std::string_view name() const override { return "afa_cs"; }
  StrategyNeeds needs() const override {
    return {.all_clients = true, .local_lr = true, .per_client_tables = true};
  }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  double local_lr_;
  AfaCsWarmup warmup_;
};

}  // namespace murmur::server::strategy
