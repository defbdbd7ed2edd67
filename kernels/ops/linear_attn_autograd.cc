#include "kernels/ops/linear_attn_autograd.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#ifdef MURMUR_TORCH_CUDA  // a LibTorch with CUDA (c10_cuda) to launch on
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace murmur::kernels {
namespace {

int g_cpu_chunk = 64;

DType ToDType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DType::kFloat32;
    case at::kBFloat16: return DType::kBFloat16;
    case at::kHalf: return DType::kFloat16;
    case at::kDouble: return DType::kFloat64;
    default: TORCH_CHECK(false, "murmur: unsupported dtype ", t);
  }
}

LinearAttnForwardParams MakeParams(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                   const at::Tensor& g, GateKind kind, double scale,
                                   const at::Tensor& h0) {
  LinearAttnForwardParams p;
  p.B = q.size(0);
  p.T = q.size(1);
  p.H = q.size(2);
  p.DK = q.size(3);
  p.DV = v.size(3);
  p.dtype = ToDType(q.scalar_type());
  p.gate = kind;
  p.scale = static_cast<float>(scale);
  p.chunk = q.device().is_cpu() ? g_cpu_chunk : 64;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.g = kind == GateKind::kNone ? nullptr : g.data_ptr();
  p.initial_state = h0.defined() ? h0.data_ptr() : nullptr;
  return p;
}

#ifdef MURMUR_WITH_CUDA
// Runs launch(stream, workspace) on the tensors' device and PyTorch's
// current stream there, so the kernels order with the ops around them, with
// `workspace_bytes` of scratch from PyTorch's caching allocator (freed when
// this returns; the allocator orders its reuse on the same stream).
template <typename LaunchFn>
void OnCudaDevice(const at::Device& device, size_t workspace_bytes, LaunchFn launch) {
#ifdef MURMUR_TORCH_CUDA
  const c10::cuda::CUDAGuard guard(device);
  const at::Tensor workspace = at::empty({static_cast<int64_t>(workspace_bytes)},
                                         at::TensorOptions().dtype(at::kByte).device(device));
  launch(static_cast<void*>(c10::cuda::getCurrentCUDAStream(device.index()).stream()),
         workspace.data_ptr());
#else
  (void)workspace_bytes;
  (void)launch;
  TORCH_CHECK(false, "murmur: the kernels were built with CUDA but against a LibTorch without ",
              "c10_cuda, so they cannot launch on ", device, "; rebuild against PyTorch's ",
              "LibTorch (kernels/gpu_check.sh)");
#endif
}
#endif

void RunForward(const LinearAttnForwardParams& p, const at::Device& device) {
  if (device.is_cuda()) {
#ifdef MURMUR_WITH_CUDA
    OnCudaDevice(device, LinearAttnForwardCudaWorkspaceBytes(p), [&](void* stream, void* ws) {
      LinearAttnForwardParams with_workspace = p;
      with_workspace.workspace = ws;
      LinearAttnForwardCuda(with_workspace, stream);
    });
    return;
#else
    TORCH_CHECK(false, "murmur: this build of the kernels has no CUDA support");
#endif
  }
  LinearAttnForwardCpu(p);
}

void RunBackward(const LinearAttnBackwardParams& p, const at::Device& device) {
  if (device.is_cuda()) {
#ifdef MURMUR_WITH_CUDA
    OnCudaDevice(device, LinearAttnBackwardCudaWorkspaceBytes(p), [&](void* stream, void* ws) {
      LinearAttnBackwardParams with_workspace = p;
      with_workspace.workspace = ws;
      LinearAttnBackwardCuda(with_workspace, stream);
    });
    return;
#else
    TORCH_CHECK(false, "murmur: this build of the kernels has no CUDA support");
#endif
  }
  LinearAttnBackwardCpu(p);
}

// Device primitive: inputs already validated, contiguous, gates and state in
// the accumulator dtype.
std::tuple<at::Tensor, at::Tensor> LinearAttnFwdPrimitive(const at::Tensor& q, const at::Tensor& k,
                                                          const at::Tensor& v,
                                                          const c10::optional<at::Tensor>& g,
                                                          int64_t kind, double scale,
                                                          const c10::optional<at::Tensor>& h0,
                                                          bool output_final_state) {
  const GateKind gk = static_cast<GateKind>(kind);
  at::Tensor gate = g.has_value() ? *g : at::Tensor();
  at::Tensor init = h0.has_value() ? *h0 : at::Tensor();
  LinearAttnForwardParams p = MakeParams(q, k, v, gate, gk, scale, init);
  at::Tensor o = at::empty({p.B, p.T, p.H, p.DV}, q.options());
  at::Tensor ht;
  if (output_final_state) {
    ht = at::empty({p.B, p.H, p.DK, p.DV}, q.options().dtype(AccumulatorType(q.scalar_type())));
    p.final_state = ht.data_ptr();
  }
  p.o = o.data_ptr();
  RunForward(p, q.device());
  return {o, ht};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> LinearAttnBwdPrimitive(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& g,
    int64_t kind, double scale, const c10::optional<at::Tensor>& h0, const at::Tensor& grad_o,
    const c10::optional<at::Tensor>& grad_final_state) {
  const GateKind gk = static_cast<GateKind>(kind);
  at::Tensor gate = g.has_value() ? *g : at::Tensor();
  at::Tensor init = h0.has_value() ? *h0 : at::Tensor();
  LinearAttnBackwardParams p;
  p.fwd = MakeParams(q, k, v, gate, gk, scale, init);
  at::Tensor d_o = grad_o.contiguous();
  p.d_o = d_o.data_ptr();
  at::Tensor dht;
  if (grad_final_state.has_value() && grad_final_state->defined()) {
    dht = grad_final_state->to(AccumulatorType(q.scalar_type())).contiguous();
    p.d_final_state = dht.data_ptr();
  }
  at::Tensor dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
  at::Tensor dg, dh0;
  if (gk != GateKind::kNone) dg = at::empty_like(gate);
  if (init.defined()) dh0 = at::empty_like(init);
  p.dq = dq.data_ptr();
  p.dk = dk.data_ptr();
  p.dv = dv.data_ptr();
  p.dg = dg.defined() ? dg.data_ptr() : nullptr;
  p.d_initial_state = dh0.defined() ? dh0.data_ptr() : nullptr;
  RunBackward(p, q.device());
  return {dq, dk, dv, dg, dh0};
}

class LinearAttnFunction : public torch::autograd::Function<LinearAttnFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const at::Tensor& q, const at::Tensor& k,
                                                const at::Tensor& v, const at::Tensor& gate,
                                                const at::Tensor& h0, bool has_h0, int64_t kind,
                                                double scale, bool output_final_state) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("murmur::linear_attn_fwd", "")
                         .typed<decltype(LinearAttnFwdPrimitive)>();
    // Absent gate / initial state arrive as empty placeholders: autograd
    // Functions cannot take undefined tensors as inputs.
    const bool has_gate = static_cast<GateKind>(kind) != GateKind::kNone;
    c10::optional<at::Tensor> g_opt = has_gate ? c10::optional<at::Tensor>(gate) : c10::nullopt;
    c10::optional<at::Tensor> h_opt = has_h0 ? c10::optional<at::Tensor>(h0) : c10::nullopt;
    auto [o, ht] = op.call(q, k, v, g_opt, kind, scale, h_opt, output_final_state);
    ctx->save_for_backward({q, k, v, gate, h0});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["has_h0"] = has_h0;
    ctx->saved_data["scale"] = scale;
    if (ht.defined()) return {o, ht};
    return {o};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const int64_t kind = ctx->saved_data["kind"].toInt();
    const double scale = ctx->saved_data["scale"].toDouble();
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("murmur::linear_attn_bwd", "")
                         .typed<decltype(LinearAttnBwdPrimitive)>();
    const at::Tensor& q = saved[0];
    at::Tensor grad_o = grads[0].defined()
                            ? grads[0]
                            : at::zeros({q.size(0), q.size(1), q.size(2), saved[2].size(3)},
                                        q.options());
    c10::optional<at::Tensor> dht =
        grads.size() > 1 && grads[1].defined() ? c10::optional<at::Tensor>(grads[1]) : c10::nullopt;
    const bool has_h0 = ctx->saved_data["has_h0"].toBool();
    c10::optional<at::Tensor> g_opt = static_cast<GateKind>(kind) != GateKind::kNone
                                          ? c10::optional<at::Tensor>(saved[3])
                                          : c10::nullopt;
    c10::optional<at::Tensor> h_opt = has_h0 ? c10::optional<at::Tensor>(saved[4]) : c10::nullopt;
    auto [dq, dk, dv, dg, dh0] = op.call(saved[0], saved[1], saved[2], g_opt, kind, scale, h_opt,
                                         grad_o, dht);
    return {dq, dk, dv, dg, dh0, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

int CpuChunkSize() { return g_cpu_chunk; }
void SetCpuChunkSize(int chunk) {
  TORCH_CHECK(chunk >= 1 && chunk <= 256, "chunk size must be in [1, 256], got ", chunk);
  g_cpu_chunk = chunk;
}

at::ScalarType AccumulatorType(at::ScalarType dtype) {
  return dtype == at::kDouble ? at::kDouble : at::kFloat;
}

void CheckQkv(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
              const c10::optional<at::Tensor>& initial_state) {
  for (auto [name, t] : {std::pair{"q", &q}, std::pair{"k", &k}, std::pair{"v", &v}}) {
    TORCH_CHECK(t->defined(), op, ": ", name, " is undefined");
    TORCH_CHECK(t->dim() == 4, op, ": ", name, " must be [B, T, H, D] (time-first), got ",
                t->dim(), " dims with shape ", t->sizes());
  }
  TORCH_CHECK(q.sizes() == k.sizes(), op, ": q and k must have the same shape, got q ", q.sizes(),
              " and k ", k.sizes());
  TORCH_CHECK(v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == q.size(2), op,
              ": v must share B, T, H with q: q ", q.sizes(), ", v ", v.sizes());
  const auto dt = q.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kBFloat16 || dt == at::kHalf || dt == at::kDouble, op,
              ": q, k, v must be float32, bfloat16, float16 or float64 (float64 on CPU only), got ",
              dt);
  TORCH_CHECK(k.scalar_type() == dt && v.scalar_type() == dt, op,
              ": q, k, v must share one dtype, got ", dt, ", ", k.scalar_type(), ", ",
              v.scalar_type());
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device(), op,
              ": q, k, v must be on one device, got ", q.device(), ", ", k.device(), ", ",
              v.device());
  TORCH_CHECK(q.device().is_cpu() || q.device().is_cuda(), op, ": unsupported device ", q.device());
  TORCH_CHECK(!(q.device().is_cuda() && dt == at::kDouble), op,
              ": float64 is supported on CPU only (use float32, bfloat16 or float16 on CUDA)");
  TORCH_CHECK(q.size(3) >= 1 && q.size(3) <= kMaxHeadDim && v.size(3) >= 1 &&
                  v.size(3) <= kMaxHeadDim,
              op, ": head dims must be in [1, ", kMaxHeadDim, "], got DK=", q.size(3),
              " DV=", v.size(3));
  TORCH_CHECK(!q.device().is_cuda() || (q.size(3) <= 128 && v.size(3) <= 128), op,
              ": on CUDA head dims must be <= 128, got DK=", q.size(3), " DV=", v.size(3));
  TORCH_CHECK(q.size(0) >= 1 && q.size(2) >= 1, op, ": B and H must be >= 1, got ", q.sizes());
  if (initial_state.has_value() && initial_state->defined()) {
    const at::Tensor& h0 = *initial_state;
    TORCH_CHECK(h0.dim() == 4 && h0.size(0) == q.size(0) && h0.size(1) == q.size(2) &&
                    h0.size(2) == q.size(3) && h0.size(3) == v.size(3),
                op, ": initial_state must be [B, H, DK, DV] = [", q.size(0), ", ", q.size(2), ", ",
                q.size(3), ", ", v.size(3), "], got ", h0.sizes());
    TORCH_CHECK(h0.device() == q.device(), op, ": initial_state is on ", h0.device(),
                " but q is on ", q.device());
    TORCH_CHECK(at::isFloatingType(h0.scalar_type()), op,
                ": initial_state must be floating point, got ", h0.scalar_type());
  }
}

void CheckLogGate(const char* op, const char* name, const at::Tensor& g) {
  TORCH_CHECK(at::isFloatingType(g.scalar_type()), op, ": ", name,
              " must be a floating-point tensor of log decays, got ", g.scalar_type());
  at::Tensor bad = (g > 0).logical_or(g.isnan()).any();
  TORCH_CHECK(!bad.item<bool>(), op, ": ", name,
              " holds log decays and must be <= 0 everywhere (use -softplus(x) or "
              "logsigmoid(x)); found positive or NaN values");
}

std::tuple<at::Tensor, at::Tensor> LinearAttn(const at::Tensor& q, const at::Tensor& k,
                                              const at::Tensor& v, const at::Tensor& gate,
                                              GateKind kind, double scale,
                                              const c10::optional<at::Tensor>& initial_state,
                                              bool output_final_state) {
  const at::ScalarType acc = AccumulatorType(q.scalar_type());
  const at::Tensor placeholder = at::empty({0}, q.options().dtype(acc));
  at::Tensor g = gate.defined() ? gate.to(acc).contiguous() : placeholder;
  const bool has_h0 = initial_state.has_value() && initial_state->defined();
  at::Tensor h0 = has_h0 ? initial_state->to(acc).contiguous() : placeholder;
  auto out = LinearAttnFunction::apply(q.contiguous(), k.contiguous(), v.contiguous(), g, h0,
                                       has_h0, static_cast<int64_t>(kind), scale,
                                       output_final_state);
  return {out[0], out.size() > 1 ? out[1] : at::Tensor()};
}

TORCH_LIBRARY_IMPL(murmur, CPU, m) {
  m.impl("linear_attn_fwd", &LinearAttnFwdPrimitive);
  m.impl("linear_attn_bwd", &LinearAttnBwdPrimitive);
}

#ifdef MURMUR_WITH_CUDA
TORCH_LIBRARY_IMPL(murmur, CUDA, m) {
  m.impl("linear_attn_fwd", &LinearAttnFwdPrimitive);
  m.impl("linear_attn_bwd", &LinearAttnBwdPrimitive);
}
#endif

}  // namespace murmur::kernels
