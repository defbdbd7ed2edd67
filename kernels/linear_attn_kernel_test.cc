// Correctness of murmur's linear-attention ops (KERNELS.md): fp64 finite-
// difference gradient checks on tiny shapes spanning several chunks, fp32 op
// vs fp64 reference for every output and gradient, state passing, NaN-
// poisoned outputs, bf16, and clear rejection of bad inputs.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>

#include "kernels/linear_attn_params.h"
#include "kernels/ops/linear_attn_autograd.h"
#include "kernels/ops/registration.h"
#include "kernels/reference/reference.h"

namespace murmur::kernels {
namespace {

using at::Tensor;

enum class Variant { kPlain, kScalarGate, kConstGate, kGla };

std::string Name(Variant v) {
  switch (v) {
    case Variant::kPlain: return "plain";
    case Variant::kScalarGate: return "scalar_gate";
    case Variant::kConstGate: return "const_gate";
    case Variant::kGla: return "gla";
  }
  return "?";
}

struct Inputs {
  Tensor q, k, v, g, h0;  // g: user-facing gate ([B,T,H], [H] or [B,T,H,DK]); h0 may be undefined
};

Inputs MakeInputs(Variant var, int64_t B, int64_t T, int64_t H, int64_t DK, int64_t DV,
                  at::ScalarType dt, bool with_h0, uint64_t seed) {
  at::manual_seed(seed);
  auto opt = at::TensorOptions().dtype(dt);
  Inputs in;
  in.q = at::randn({B, T, H, DK}, opt);
  in.k = at::randn({B, T, H, DK}, opt);
  in.v = at::randn({B, T, H, DV}, opt);
  // Log gates in (-0.7, 0): strong enough that a chunk decays by e^-20.
  switch (var) {
    case Variant::kPlain: break;
    case Variant::kScalarGate: in.g = at::log_sigmoid(at::randn({B, T, H}, opt) + 2.0); break;
    case Variant::kConstGate: in.g = -at::rand({H}, opt) * 0.3 - 0.01; break;
    case Variant::kGla: in.g = at::log_sigmoid(at::randn({B, T, H, DK}, opt) + 2.0); break;
  }
  if (with_h0) in.h0 = at::randn({B, H, DK, DV}, opt);
  return in;
}

// Our op, through the dispatcher like any torch op.
std::tuple<Tensor, Tensor> RunOp(Variant var, const Inputs& in, bool final_state) {
  static auto lin = c10::Dispatcher::singleton()
                        .findSchemaOrThrow("murmur::chunk_linear_attn", "")
                        .typed<std::tuple<Tensor, Tensor>(
                            const Tensor&, const Tensor&, const Tensor&, const c10::optional<Tensor>&,
                            const c10::optional<Tensor>&, c10::optional<double>,
                            const c10::optional<Tensor>&, bool)>();
  static auto gla = c10::Dispatcher::singleton()
                        .findSchemaOrThrow("murmur::chunk_gla", "")
                        .typed<std::tuple<Tensor, Tensor>(
                            const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                            c10::optional<double>, const c10::optional<Tensor>&, bool)>();
  c10::optional<Tensor> h0 = in.h0.defined() ? c10::optional<Tensor>(in.h0) : c10::nullopt;
  switch (var) {
    case Variant::kPlain: return lin.call(in.q, in.k, in.v, {}, {}, {}, h0, final_state);
    case Variant::kScalarGate: return lin.call(in.q, in.k, in.v, in.g, {}, {}, h0, final_state);
    case Variant::kConstGate: return lin.call(in.q, in.k, in.v, {}, in.g, {}, h0, final_state);
    case Variant::kGla: return gla.call(in.q, in.k, in.v, in.g, {}, h0, final_state);
  }
  return {};
}

// The fp64 recurrent reference with the same gate semantics.
std::tuple<Tensor, Tensor> RunReference(Variant var, const Inputs& in) {
  Tensor g = in.g;
  if (var == Variant::kConstGate) {
    g = in.g.view({1, 1, -1}).expand({in.q.size(0), in.q.size(1), in.q.size(2)});
  }
  return reference::Recurrent(in.q, in.k, in.v, g, 1.0 / std::sqrt(double(in.q.size(3))), in.h0);
}

std::vector<Tensor> Leaves(Inputs& in) {
  std::vector<Tensor> leaves = {in.q, in.k, in.v};
  if (in.g.defined()) leaves.push_back(in.g);
  if (in.h0.defined()) leaves.push_back(in.h0);
  for (Tensor& t : leaves) t.requires_grad_(true);
  return leaves;
}

double RelErr(const Tensor& a, const Tensor& b) {
  Tensor a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
  return (a64 - b64).norm().item<double>() / std::max(b64.norm().item<double>(), 1e-30);
}

class ChunkSize {
 public:
  explicit ChunkSize(int c) : saved_(CpuChunkSize()) { SetCpuChunkSize(c); }
  ~ChunkSize() { SetCpuChunkSize(saved_); }

 private:
  int saved_;
};

class LinearAttnKernelTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override { EnsureRegistered(); }
};

// Finite differences in fp64 on every input element: T = 19 with chunk 8 (three chunks,
// the last partial), odd DK, DV != DK, an initial state and the final state in the loss.
TEST_P(LinearAttnKernelTest, Fp64GradientsMatchFiniteDifferences) {
  ChunkSize chunk(8);
  const Variant var = GetParam();
  Inputs in = MakeInputs(var, 2, 19, 2, 5, 3, at::kDouble, /*with_h0=*/true, 11);
  std::vector<Tensor> leaves = Leaves(in);
  at::manual_seed(12);
  const Tensor wo = at::randn({2, 19, 2, 3}, at::kDouble);
  const Tensor ws = at::randn({2, 2, 5, 3}, at::kDouble);
  auto loss_of = [&](const Inputs& x) {
    auto [o, ht] = RunOp(var, x, true);
    return (o * wo).sum() + (ht * ws).sum();
  };
  Tensor loss = loss_of(in);
  std::vector<Tensor> grads = torch::autograd::grad({loss}, leaves);
  const double eps = 1e-6;
  at::NoGradGuard no_grad;
  for (size_t li = 0; li < leaves.size(); ++li) {
    Tensor flat = leaves[li].detach().view(-1);
    Tensor analytic = grads[li].contiguous().view(-1);
    const bool is_gate = leaves[li].is_same(in.g);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double x0 = flat[i].item<double>();
      // Gates must stay <= 0: step away from zero on the inside.
      const double h = is_gate ? std::min(eps, -x0 / 2) : eps;
      flat[i] = x0 + h;
      const double up = loss_of(in).item<double>();
      flat[i] = x0 - h;
      const double down = loss_of(in).item<double>();
      flat[i] = x0;
      const double numeric = (up - down) / (2 * h);
      const double a = analytic[i].item<double>();
      ASSERT_NEAR(a, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << Name(var) << " input " << li << " element " << i;
    }
  }
}

// fp32 op vs the fp64 reference: relative error <= 1e-5 for o, the final state and every
// gradient, at the default chunk (64) with T not a multiple of it.
TEST_P(LinearAttnKernelTest, Fp32MatchesFp64Reference) {
  const Variant var = GetParam();
  for (uint64_t seed : {21, 22}) {
    Inputs ref = MakeInputs(var, 2, 150, 3, 16, 24, at::kDouble, true, seed);
    Inputs ours;
    ours.q = ref.q.to(at::kFloat);
    ours.k = ref.k.to(at::kFloat);
    ours.v = ref.v.to(at::kFloat);
    if (ref.g.defined()) ours.g = ref.g.to(at::kFloat);
    ours.h0 = ref.h0.to(at::kFloat);
    std::vector<Tensor> ref_leaves = Leaves(ref), our_leaves = Leaves(ours);
    auto [ro, rs] = RunReference(var, ref);
    auto [oo, os] = RunOp(var, ours, true);
    EXPECT_LE(RelErr(oo, ro), 1e-5) << Name(var) << " o";
    EXPECT_LE(RelErr(os, rs), 1e-5) << Name(var) << " final state";
    at::manual_seed(seed + 100);
    Tensor wo = at::randn(ro.sizes(), at::kDouble), ws = at::randn(rs.sizes(), at::kDouble);
    auto rg = torch::autograd::grad({(ro * wo).sum() + (rs * ws).sum()}, ref_leaves);
    auto og = torch::autograd::grad(
        {(oo * wo.to(at::kFloat)).sum() + (os * ws.to(at::kFloat)).sum()}, our_leaves);
    const char* names[] = {"dq", "dk", "dv", "dg", "dh0"};
    for (size_t i = 0; i < rg.size(); ++i) {
      const char* name = rg.size() == 4 && i == 3 ? "dh0" : names[i];
      EXPECT_LE(RelErr(og[i], rg[i]), 1e-5) << Name(var) << " " << name;
    }
  }
}

// Running two halves with the state carried equals one pass.
TEST_P(LinearAttnKernelTest, StatePassingEqualsOnePass) {
  const Variant var = GetParam();
  Inputs in = MakeInputs(var, 2, 200, 2, 32, 32, at::kFloat, true, 31);
  auto [o, s] = RunOp(var, in, true);
  auto half = [&](int64_t from, int64_t len, const Tensor& h0) {
    Inputs part;
    part.q = in.q.narrow(1, from, len);
    part.k = in.k.narrow(1, from, len);
    part.v = in.v.narrow(1, from, len);
    part.g = var == Variant::kPlain || var == Variant::kConstGate ? in.g : in.g.narrow(1, from, len);
    part.h0 = h0;
    return RunOp(var, part, true);
  };
  auto [o1, s1] = half(0, 77, in.h0);
  auto [o2, s2] = half(77, 123, s1);
  EXPECT_LE(RelErr(at::cat({o1, o2}, 1), o), 1e-5) << Name(var);
  EXPECT_LE(RelErr(s2, s), 1e-5) << Name(var);
}

// The work split depends on the thread count (head groups of 4, 2 or 1 heads;
// value-column tiles when batch x head < threads): every split gives the
// one-thread answer for every output and gradient.
TEST_P(LinearAttnKernelTest, EveryThreadCountGivesTheSameResult) {
  const Variant var = GetParam();
  const int saved_threads = at::get_num_threads();
  for (auto [B, H] : {std::pair<int64_t, int64_t>{3, 4}, {1, 2}}) {
    Inputs in = MakeInputs(var, B, 100, H, 16, 48, at::kFloat, true, 91);
    std::vector<Tensor> leaves = Leaves(in);
    const Tensor wo = at::randn({B, 100, H, 48}), ws = at::randn({B, H, 16, 48});
    auto run = [&] {
      auto [o, s] = RunOp(var, in, true);
      std::vector<Tensor> out = {o, s};
      for (Tensor& g : torch::autograd::grad({(o * wo).sum() + (s * ws).sum()}, leaves)) {
        out.push_back(g);
      }
      return out;
    };
    at::set_num_threads(1);
    const std::vector<Tensor> one = run();
    for (int threads : {2, 3, 5, 8}) {
      at::set_num_threads(threads);
      const std::vector<Tensor> many = run();
      for (size_t i = 0; i < one.size(); ++i) {
        EXPECT_LE(RelErr(many[i], one[i]), 1e-6)
            << Name(var) << " B=" << B << " H=" << H << " threads=" << threads << " output " << i;
      }
    }
  }
  at::set_num_threads(saved_threads);
}

// bf16 and fp16 inputs: fp32 states and accumulators keep the error at the
// input type's rounding level (bf16 2^-8, fp16 2^-11).
TEST_P(LinearAttnKernelTest, SixteenBitIsCloseToFp32) {
  const Variant var = GetParam();
  for (auto [dtype, tol] : {std::pair{at::kBFloat16, 2e-2}, std::pair{at::kHalf, 3e-3}}) {
    Inputs in = MakeInputs(var, 1, 130, 2, 32, 32, at::kFloat, false, 41);
    Inputs lo = in;
    lo.q = in.q.to(dtype);
    lo.k = in.k.to(dtype);
    lo.v = in.v.to(dtype);
    auto [o32, s32] = RunOp(var, in, true);
    auto [o16, s16] = RunOp(var, lo, true);
    EXPECT_EQ(o16.scalar_type(), dtype);
    EXPECT_EQ(s16.scalar_type(), at::kFloat);
    EXPECT_LE(RelErr(o16, o32), tol) << Name(var) << " " << dtype;
  }
}

// bf16 is fp32 arithmetic with bf16 storage: the CPU kernel loads bf16
// inputs into fp32, accumulates in fp32 exactly as the fp32 instantiation
// does (same code, same work split), and rounds each output once, to nearest
// even, when it stores it. So the bf16 op's output must equal, bit for bit,
// the fp32 op run on the same bf16-rounded inputs and then rounded to bf16 by
// ATen; the final state (fp32 in both) must be identical. Holds for the
// gradients too (bf16 dq/dk/dv, fp32 gate and initial-state gradients).
// Truncating instead of rounding to nearest even fails this.
void ExpectSixteenBitIsTheFp32OpRounded(Variant var, at::ScalarType dtype) {
  // T = 130: three chunks, the last partial; an initial state.
  Inputs in = MakeInputs(var, 2, 130, 2, 32, 24, at::kFloat, /*with_h0=*/true, 43);
  Inputs lo = in;  // 16-bit q, k, v; gate and state stay fp32
  lo.q = in.q.to(dtype);
  lo.k = in.k.to(dtype);
  lo.v = in.v.to(dtype);
  Inputs hi = in;  // the same values, held in fp32
  hi.q = lo.q.to(at::kFloat);
  hi.k = lo.k.to(at::kFloat);
  hi.v = lo.v.to(at::kFloat);
  if (lo.g.defined()) lo.g = in.g.clone();
  lo.h0 = in.h0.clone();
  std::vector<Tensor> lo_leaves = Leaves(lo);
  std::vector<Tensor> hi_leaves = Leaves(hi);
  auto [o16, s16] = RunOp(var, lo, true);
  auto [o32, s32] = RunOp(var, hi, true);
  ASSERT_EQ(o16.scalar_type(), dtype);
  auto same_bits = [dtype](const Tensor& a, const Tensor& b) {
    return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
           at::equal(a.contiguous().view(a.scalar_type() == dtype ? at::kShort : at::kInt),
                     b.contiguous().view(b.scalar_type() == dtype ? at::kShort : at::kInt));
  };
  const Tensor want = o32.detach().to(dtype);
  const int64_t differ = (o16.detach().to(at::kFloat) != want.to(at::kFloat)).sum().item<int64_t>();
  EXPECT_TRUE(same_bits(o16.detach(), want))
      << Name(var) << ": " << differ << " of " << want.numel() << " outputs differ";
  EXPECT_TRUE(same_bits(s16.detach(), s32.detach())) << Name(var) << ": final state";

  // Backward: the same upstream gradients (16-bit for o, fp32 for the state).
  at::manual_seed(44);
  const Tensor do16 = at::randn(o16.sizes(), at::kFloat).to(dtype);
  const Tensor ds = at::randn(s16.sizes(), at::kFloat);
  std::vector<Tensor> g16 = torch::autograd::grad({o16, s16}, lo_leaves, {do16, ds});
  std::vector<Tensor> g32 =
      torch::autograd::grad({o32, s32}, hi_leaves, {do16.to(at::kFloat), ds});
  ASSERT_EQ(g16.size(), g32.size());
  for (size_t i = 0; i < g16.size(); ++i) {
    const Tensor want_grad = g32[i].to(g16[i].scalar_type());
    EXPECT_TRUE(same_bits(g16[i], want_grad)) << Name(var) << ": gradient of input " << i;
  }
}

// fp16 likewise (IEEE half, subnormals kept).
TEST_P(LinearAttnKernelTest, SixteenBitIsTheFp32OpRoundedToNearestEven) {
  const Variant var = GetParam();
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    ExpectSixteenBitIsTheFp32OpRounded(var, dtype);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, LinearAttnKernelTest,
                         ::testing::Values(Variant::kPlain, Variant::kScalarGate,
                                           Variant::kConstGate, Variant::kGla),
                         [](const auto& info) { return Name(info.param); });

// Kernels write every output element: outputs are NaN-poisoned before the run.
TEST(LinearAttnKernelRawTest, EveryOutputElementIsWritten) {
  for (GateKind kind : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    const int64_t B = 2, T = 70, H = 3, DK = 9, DV = 7;
    at::manual_seed(51);
    Tensor q = at::randn({B, T, H, DK}), k = at::randn({B, T, H, DK}), v = at::randn({B, T, H, DV});
    Tensor g = kind == GateKind::kPerDim ? -at::rand({B, T, H, DK}) : -at::rand({B, T, H});
    Tensor h0 = at::randn({B, H, DK, DV}), dht = at::randn({B, H, DK, DV});
    Tensor d_o = at::randn({B, T, H, DV});
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Tensor o = at::full({B, T, H, DV}, nan), ht = at::full({B, H, DK, DV}, nan);
    LinearAttnForwardParams p;
    p.B = B; p.T = T; p.H = H; p.DK = DK; p.DV = DV;
    p.gate = kind;
    p.scale = 0.3f;
    p.q = q.data_ptr(); p.k = k.data_ptr(); p.v = v.data_ptr();
    p.g = kind == GateKind::kNone ? nullptr : g.data_ptr();
    p.initial_state = h0.data_ptr();
    p.o = o.data_ptr();
    p.final_state = ht.data_ptr();
    LinearAttnForwardCpu(p);
    EXPECT_TRUE(o.isfinite().all().item<bool>()) << int(kind);
    EXPECT_TRUE(ht.isfinite().all().item<bool>()) << int(kind);
    Tensor dq = at::full_like(q, nan), dk = at::full_like(k, nan), dv = at::full_like(v, nan);
    Tensor dg = at::full_like(g, nan), dh0 = at::full_like(h0, nan);
    LinearAttnBackwardParams bp;
    bp.fwd = p;
    bp.d_o = d_o.data_ptr();
    bp.d_final_state = dht.data_ptr();
    bp.dq = dq.data_ptr(); bp.dk = dk.data_ptr(); bp.dv = dv.data_ptr();
    bp.dg = kind == GateKind::kNone ? nullptr : dg.data_ptr();
    bp.d_initial_state = dh0.data_ptr();
    LinearAttnBackwardCpu(bp);
    for (const Tensor& t : {dq, dk, dv, dh0}) EXPECT_TRUE(t.isfinite().all().item<bool>()) << int(kind);
    if (kind != GateKind::kNone) {
      EXPECT_TRUE(dg.isfinite().all().item<bool>());
    }
  }
}

// Strong decay over long chunks must not overflow (exponents masked before exp).
TEST(LinearAttnKernelRawTest, StrongDecayStaysFinite) {
  EnsureRegistered();
  Inputs in = MakeInputs(Variant::kScalarGate, 1, 256, 1, 16, 16, at::kFloat, false, 61);
  in.g = at::full({1, 256, 1}, -30.0f);
  auto [o, s] = RunOp(Variant::kScalarGate, in, true);
  EXPECT_TRUE(o.isfinite().all().item<bool>());
  Inputs gla = MakeInputs(Variant::kGla, 1, 256, 1, 16, 16, at::kFloat, false, 62);
  gla.g = at::full({1, 256, 1, 16}, -30.0f);
  auto [o2, s2] = RunOp(Variant::kGla, gla, true);
  EXPECT_TRUE(o2.isfinite().all().item<bool>());
  // With a = e^-30 per step, o_t is (almost) scale * (q_t . k_t) v_t.
  Tensor expect = (in.q * in.k).sum(-1, true) * in.v / 4.0;
  EXPECT_LE(RelErr(o, expect), 1e-5);
}

void ExpectRejected(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LinearAttnKernelInputTest, BadInputsAreRejectedClearly) {
  EnsureRegistered();
  Inputs ok = MakeInputs(Variant::kScalarGate, 2, 10, 2, 8, 8, at::kFloat, true, 71);
  auto run = [](Variant var, Inputs in) { RunOp(var, in, false); };
  Inputs bad = ok;
  bad.q = ok.q.view({2, 10, 16});
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "[B, T, H, D]");
  bad = ok;
  bad.k = at::randn({2, 10, 2, 9});
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "same shape");
  bad = ok;
  bad.v = ok.v.to(at::kDouble);
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "one dtype");
  bad = ok;
  bad.q = ok.q.to(at::kInt);
  bad.k = ok.k.to(at::kInt);
  bad.v = ok.v.to(at::kInt);
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "float32, bfloat16, float16 or float64");
  bad = ok;
  bad.g = ok.g.abs() + 0.1;
  ExpectRejected([&] { run(Variant::kScalarGate, bad); }, "must be <= 0");
  bad = ok;
  bad.g = at::randn({2, 10, 2, 8}).abs().neg();
  ExpectRejected([&] { run(Variant::kScalarGate, bad); }, "chunk_gla");
  bad = ok;
  bad.h0 = at::randn({2, 2, 8, 7});
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "initial_state must be [B, H, DK, DV]");
  bad = ok;
  bad.q = at::randn({1, 4, 1, 300});
  bad.k = at::randn({1, 4, 1, 300});
  bad.v = at::randn({1, 4, 1, 8});
  bad.h0 = Tensor();
  ExpectRejected([&] { run(Variant::kPlain, bad); }, "head dims");
  bad = ok;
  bad.g = -at::rand({2, 10, 2});
  ExpectRejected([&] { run(Variant::kGla, bad); }, "[B, T, H, DK]");
  static auto lin = c10::Dispatcher::singleton()
                        .findSchemaOrThrow("murmur::chunk_linear_attn", "")
                        .typed<std::tuple<Tensor, Tensor>(
                            const Tensor&, const Tensor&, const Tensor&, const c10::optional<Tensor>&,
                            const c10::optional<Tensor>&, c10::optional<double>,
                            const c10::optional<Tensor>&, bool)>();
  ExpectRejected([&] { lin.call(ok.q, ok.k, ok.v, ok.g, -at::rand({2}), {}, {}, false); },
                 "not both");
}

TEST(LinearAttnKernelCudaTest, CudaMatchesCpuWhenAGpuIsPresent) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device (or a CPU-only LibTorch)";
  EnsureRegistered();
  for (Variant var : {Variant::kPlain, Variant::kScalarGate, Variant::kGla}) {
    Inputs cpu = MakeInputs(var, 2, 300, 4, 64, 64, at::kFloat, true, 81);
    Inputs gpu = cpu;
    gpu.q = cpu.q.cuda(); gpu.k = cpu.k.cuda(); gpu.v = cpu.v.cuda();
    if (cpu.g.defined()) gpu.g = cpu.g.cuda();
    gpu.h0 = cpu.h0.cuda();
    std::vector<Tensor> lc = Leaves(cpu), lg = Leaves(gpu);
    auto [oc, sc] = RunOp(var, cpu, true);
    auto [og, sg] = RunOp(var, gpu, true);
    EXPECT_LE(RelErr(og.cpu(), oc), 1e-4) << Name(var);
    EXPECT_LE(RelErr(sg.cpu(), sc), 1e-4) << Name(var);
    auto gc = torch::autograd::grad({oc.sum() + sc.sum()}, lc);
    auto gg = torch::autograd::grad({og.sum() + sg.sum()}, lg);
    for (size_t i = 0; i < gc.size(); ++i) EXPECT_LE(RelErr(gg[i].cpu(), gc[i]), 1e-4) << Name(var) << i;
  }
}

}  // namespace
}  // namespace murmur::kernels
