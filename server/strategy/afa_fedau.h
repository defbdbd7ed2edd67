// AFA + FedAU (murmur's own): anarchic arrivals are biased, eager clients
// report more often; weight each AFA step-normalized update by FedAU's
// online estimate omega_i ~ 1/p_i of its client, where p_i is the client's
// chance of having an update in an (asynchronous) round.
//
//   G_i = -delta_i / (local_lr_i * K_i)
//   c_n = number of client n's updates in this round (S_t: its distinct clients)
//   W   = sum_{n in S_t} omega_n
//   G   = sum_{i in round} (omega_{n(i)} / c_{n(i)}) * s(tau_i) * G_i / W
//   x_{t+1} = x_t - eta * eta_L * G       (eta_L as in AFA-CD: configured or per update)
// omega_n: FedAU's weight of client n from the rounds before this one (same
// estimator and K_cut as fedau); then every registered client's counter
// advances with q_n^t = 1 iff it had at least one update in the round.
//
// Several updates of one client in one round (an eager client in anarchic
// mode) are POOLED before weighting: FedAU's q_n^t is a per-round
// indicator, so the estimator sees one participation however many updates
// came, and omega_n ~ 1/p_n is that client's share of the round. Its c_n
// updates therefore split omega_n equally (each gets omega_n / c_n, times
// its own staleness discount), and W counts each distinct client once. With
// s = 1 the client's updates together weigh omega_n / W, i.e. their average
// G enters like one update; without pooling, a client with 5 of the 6
// updates of a round took 5/6 of the weight whatever its omega. (The other
// option, counting updates in the estimator, would change what omega
// estimates; pooling keeps FedAU's estimator and its 1/p_n meaning intact.)
//
// Why normalize by W rather than by N (FedAU) or m (AFA-CD): the weights
// become a convex combination, so the step has AFA-CD's magnitude (the
// learning-rate guidance carries over) while the mix over clients is
// reweighted towards rarely-arriving ones; the normalization does not depend
// on N, which in anarchic settings includes many clients with p_i ~ 0, and it
// is robust during warm-up when every omega is still 1 (then, with one update
// per client, it equals AFA-CD exactly). s(tau) (default 1) multiplies the
// numerator only, as in AFA-CD.
// weights[i] = (omega_{n(i)} / c_{n(i)}) * s_i / W (the weight on G_i).
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include <cstdint>

#include "server/strategy/staleness.h"
#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

class AfaFedAu final : public Strategy {
 public:
  // local_lr: eta_L (0: each update's own); staleness: resolved and valid;
  // k_cut: FedAU's interval cut-off (0: infinity).
  AfaFedAu(double server_lr, double local_lr, StalenessConfig staleness, uint64_t k_cut)
      : server_lr_(server_lr), local_lr_(local_lr), staleness_(staleness), k_cut_(k_cut) {}
  std::string_view name() const override { return "afa_fedau"; }
  StrategyNeeds needs() const override { return {.all_clients = true, .local_lr = true}; }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  double local_lr_;
  StalenessConfig staleness_;
  uint64_t k_cut_;
};

}  // namespace murmur::server::strategy
