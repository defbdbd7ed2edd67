#include "ml/rms_norm.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <vector>

namespace murmur::model {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per parallel task: enough work to amortize a task (~16k floats).
int64_t Grain(int64_t d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)); }

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& x_in, const Tensor& w_in,
                        double eps) {
    const Tensor x = x_in.contiguous(), w = w_in.contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    Tensor y = at::empty_like(x);
    Tensor rstd = at::empty({n}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    const float feps = static_cast<float>(eps);
    at::parallel_for(0, n, Grain(d), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float* xr = xp + i * d;
        float ss = 0.0f;
        for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
        const float r = 1.0f / std::sqrt(ss / static_cast<float>(d) + feps);
        rp[i] = r;
        float* yr = yp + i * d;
        for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * r * wp[j];
      }
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  // With xh = x r:  dw = sum_rows gy (.) xh;
  // dx = r (g - xh mean(g (.) xh)), g = gy (.) w.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor& x = saved[0];
    const Tensor& w = saved[1];
    const Tensor& rstd = saved[2];
    const Tensor gy = grads[0].contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    Tensor gx = at::empty_like(x);
    const int threads = at::get_num_threads();
    Tensor gw_partial = at::zeros({threads, d}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const float* gp = gy.data_ptr<float>();
    float* gxp = gx.data_ptr<float>();
    float* gwp = gw_partial.data_ptr<float>();
    at::parallel_for(0, n, Grain(d), [&](int64_t begin, int64_t end) {
      float* gw = gwp + static_cast<int64_t>(at::get_thread_num()) * d;
      for (int64_t i = begin; i < end; ++i) {
        const float* xr = xp + i * d;
        const float* gr = gp + i * d;
        const float r = rp[i];
        float dot = 0.0f;
        for (int64_t j = 0; j < d; ++j) {
          const float xh = xr[j] * r;
          dot += gr[j] * wp[j] * xh;
          gw[j] += gr[j] * xh;
        }
        const float mean = dot / static_cast<float>(d);
        float* out = gxp + i * d;
        for (int64_t j = 0; j < d; ++j) out[j] = r * (gr[j] * wp[j] - xr[j] * r * mean);
      }
    });
    return {gx, gw_partial.sum(0), Tensor()};
  }
};

}  // namespace

Tensor RmsNormOp(const Tensor& x, const Tensor& weight, double eps) {
  const bool fused = x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
                     weight.scalar_type() == torch::kFloat && x.dim() >= 1 && x.numel() > 0 &&
                     weight.dim() == 1 && weight.size(0) == x.size(-1);
  if (!fused) return x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
  return RmsNormFunction::apply(x, weight, eps);
}

}  // namespace murmur::model
