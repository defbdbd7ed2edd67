#include "kernels/reference/reference.h"

#include <vector>

namespace murmur::kernels::reference {

std::tuple<at::Tensor, at::Tensor> Recurrent(const at::Tensor& q, const at::Tensor& k,
                                             const at::Tensor& v, const at::Tensor& g,
                                             double scale, const at::Tensor& h0) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), DK = q.size(3), DV = v.size(3);
  at::Tensor S = h0.defined() ? h0.to(q.scalar_type())
                              : at::zeros({B, H, DK, DV}, q.options());
  std::vector<at::Tensor> outs;
  outs.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    at::Tensor qt = q.select(1, t), kt = k.select(1, t), vt = v.select(1, t);  // [B,H,D]
    if (g.defined()) {
      at::Tensor a = g.select(1, t).to(q.scalar_type()).exp();
      a = g.dim() == 3 ? a.view({B, H, 1, 1}) : a.view({B, H, DK, 1});
      S = a * S;
    }
    S = S + kt.unsqueeze(-1) * vt.unsqueeze(-2);
    outs.push_back(scale * at::matmul(qt.unsqueeze(-2), S).squeeze(-2));
  }
  return {at::stack(outs, 1), S};
}

at::Tensor Quadratic(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& g, double scale) {
  const int64_t T = q.size(1);
  at::Tensor qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);  // [B,H,T,D]
  at::Tensor scores = at::matmul(qh, kh.transpose(-1, -2));                           // [B,H,T,T]
  at::Tensor causal = at::ones({T, T}, q.options().dtype(at::kBool)).tril();
  if (g.defined()) {
    at::Tensor b = g.to(q.scalar_type()).cumsum(1).transpose(1, 2);  // [B,H,T]
    at::Tensor expo = b.unsqueeze(-1) - b.unsqueeze(-2);             // b_t - b_s
    expo = expo.masked_fill(causal.logical_not(), -std::numeric_limits<double>::infinity());
    scores = scores * expo.exp();
  } else {
    scores = scores.masked_fill(causal.logical_not(), 0);
  }
  return (scale * at::matmul(scores, vh)).transpose(1, 2).contiguous();
}

at::Tensor CumsumOuter(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       double scale) {
  at::Tensor states = (k.unsqueeze(-1) * v.unsqueeze(-2)).cumsum(1);  // [B,T,H,DK,DV]
  return scale * at::matmul(q.unsqueeze(-2), states).squeeze(-2);
}

}  // namespace murmur::kernels::reference
