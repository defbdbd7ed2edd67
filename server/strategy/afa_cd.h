// AFA-CD: Anarchic Federated Averaging, cross-device (Yang, Zhang, Khanduri,
// Liu, ICML 2022). Workers come when they like and run as many local steps
// as they like; each update is normalized to an average gradient so a worker
// doing more steps gets no extra weight.
//
//   G_i = -delta_i / (local_lr_i * K_i)                 (step-normalized update)
//   G   = (1/m) * sum_{i in round} s(tau_i) * G_i       (m: updates this round)
//   x_{t+1} = x_t - eta * eta_L * G
// eta_L is the server's assumed local rate: a configured value, or (when
// configured as 0, the default) each update's own local_lr, applied inside
// the sum as eta_L_i * G_i = -delta_i / K_i. s(tau) defaults to 1 (the paper
// has no discount); inv_sqrt / polynomial / hinge are an extension.
// Computed in double straight from delta_i:
//   x_{t+1} = x_t + eta * sum_i [s_i * eta_L_i / (m * local_lr_i * K_i)] * delta_i.
// weights[i] = s_i / m (the weight on G_i). A client may appear more than
// once in a round (updates from different base versions). No state.
//
// Immutable after construction; Aggregate is pure, safe from any thread.
#pragma once

#include "server/strategy/staleness.h"
#include "server/strategy/strategy.h"

namespace murmur::server::strategy {

// eta_L for update `u`: `configured` when > 0, else u.local_lr.
inline double AfaLocalLr(double configured, const ClientUpdate& u) {
  return configured > 0 ? configured : u.local_lr;
}

// The coefficient c with g_weight * eta_L * G_u = -c * delta_u, i.e.
// c = g_weight * eta_L / (local_lr * K).
inline double AfaDeltaCoefficient(double g_weight, double eta_l, const ClientUpdate& u) {
  return g_weight * eta_l / (u.local_lr * static_cast<double>(u.local_steps));
}

class AfaCd final : public Strategy {
 public:
  // local_lr: eta_L (0: each update's own); staleness: resolved and valid.
  AfaCd(double server_lr, double local_lr, StalenessConfig staleness)
      : server_lr_(server_lr), local_lr_(local_lr), staleness_(staleness) {}
  std::string_view name() const override { return "afa_cd"; }
  StrategyNeeds needs() const override { return {.local_lr = true}; }

 protected:
  Status Apply(const RoundInput& in, const StrategyState& state, Step& step) const override;

 private:
  double server_lr_;
  double local_lr_;
  StalenessConfig staleness_;
};

}  // namespace murmur::server::strategy
