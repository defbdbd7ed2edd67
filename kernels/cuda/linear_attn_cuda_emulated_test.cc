// The CUDA kernels (linear_attn_cuda.cu) run under the CPU emulation of the
// CUDA execution model, with each target architecture's shared-memory
// limit, and must agree with the CPU kernels, which the tests
// in linear_attn_kernel_test.cc check against the fp64 references: every
// output and gradient, every gate kind, fp32, bf16 and fp16 (tensor-core
// fragments where the emulated architecture has them), T not a multiple of
// the chunk, odd head dims, initial and final states. Outputs are NaN-
// poisoned and shared memory NaN-filled, so an unwritten element or a read
// of unwritten shared memory fails. The GPU itself is exercised by
// kernels/gpu_check.sh.
#include "kernels/cuda/linear_attn_cuda_emulated.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/arch_limits.h"
#include "kernels/cuda/launch_plan.h"
#include "kernels/linear_attn_params.h"

namespace murmur::kernels {
namespace {

using at::Tensor;

struct Case {
  int64_t B, T, H, DK, DV;
  GateKind gate;
  at::ScalarType dtype;
  float scale = 0.25f;
};

std::string Describe(const Case& c) {
  return "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) +
         " DK=" + std::to_string(c.DK) + " DV=" + std::to_string(c.DV) +
         " gate=" + std::to_string(static_cast<int>(c.gate)) +
         (c.dtype == at::kBFloat16 ? " bf16" : c.dtype == at::kHalf ? " fp16" : " fp32") +
         " scale=" + std::to_string(c.scale);
}

// A call's sizes, type, gate and scale (no tensors yet).
LinearAttnForwardParams ShapeOf(const Case& c) {
  LinearAttnForwardParams p;
  p.B = c.B;
  p.T = c.T;
  p.H = c.H;
  p.DK = c.DK;
  p.DV = c.DV;
  p.dtype = c.dtype == at::kBFloat16 ? DType::kBFloat16
            : c.dtype == at::kHalf   ? DType::kFloat16
                                     : DType::kFloat32;
  p.gate = c.gate;
  p.scale = c.scale;
  return p;
}

// Inputs, and one set of NaN-poisoned outputs per implementation.
struct Outputs {
  Tensor o, ht, dq, dk, dv, dg, dh0;
};

struct Problem {
  Tensor q, k, v, g, h0, dht, d_o;

  explicit Problem(const Case& c, uint64_t seed) {
    at::manual_seed(seed);
    q = at::randn({c.B, c.T, c.H, c.DK}).to(c.dtype);
    k = at::randn({c.B, c.T, c.H, c.DK}).to(c.dtype);
    v = at::randn({c.B, c.T, c.H, c.DV}).to(c.dtype);
    d_o = at::randn({c.B, c.T, c.H, c.DV}).to(c.dtype);
    // Log gates in (-0.7, 0): a chunk of 64 decays by up to e^-40.
    g = c.gate == GateKind::kPerDim ? at::log_sigmoid(at::randn({c.B, c.T, c.H, c.DK}) + 2.0)
                                    : at::log_sigmoid(at::randn({c.B, c.T, c.H}) + 2.0);
    h0 = at::randn({c.B, c.H, c.DK, c.DV});
    dht = at::randn({c.B, c.H, c.DK, c.DV});
  }

  template <typename Fwd, typename Bwd>
  Outputs Execute(const Case& c, Fwd forward, Bwd backward) const {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Outputs r;
    r.o = at::full({c.B, c.T, c.H, c.DV}, nan).to(c.dtype);
    r.ht = at::full({c.B, c.H, c.DK, c.DV}, nan);
    r.dq = at::full_like(q, nan);
    r.dk = at::full_like(k, nan);
    r.dv = at::full_like(v, nan);
    r.dg = at::full_like(g, nan);
    r.dh0 = at::full_like(h0, nan);
    LinearAttnForwardParams p = ShapeOf(c);
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    p.g = c.gate == GateKind::kNone ? nullptr : g.data_ptr();
    p.initial_state = h0.data_ptr();
    p.o = r.o.data_ptr();
    p.final_state = r.ht.data_ptr();
    forward(p);
    LinearAttnBackwardParams bp;
    bp.fwd = p;
    bp.d_o = d_o.data_ptr();
    bp.d_final_state = dht.data_ptr();
    bp.dq = r.dq.data_ptr();
    bp.dk = r.dk.data_ptr();
    bp.dv = r.dv.data_ptr();
    bp.dg = c.gate == GateKind::kNone ? nullptr : r.dg.data_ptr();
    bp.d_initial_state = r.dh0.data_ptr();
    backward(bp);
    return r;
  }
};

double RelErr(const Tensor& a, const Tensor& b) {
  Tensor a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
  return (a64 - b64).norm().item<double>() / std::max(b64.norm().item<double>(), 1e-30);
}

void ExpectAgree(const Case& c, double tol) {
  const Problem prob(c, 1000 + c.T + c.DK * 7 + static_cast<int>(c.gate));
  const Outputs emu = prob.Execute(c, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
  const Outputs cpu = prob.Execute(c, LinearAttnForwardCpu, LinearAttnBackwardCpu);
  std::vector<std::pair<const char*, std::pair<Tensor, Tensor>>> outputs = {
      {"o", {emu.o, cpu.o}},       {"final_state", {emu.ht, cpu.ht}}, {"dq", {emu.dq, cpu.dq}},
      {"dk", {emu.dk, cpu.dk}},    {"dv", {emu.dv, cpu.dv}},          {"dh0", {emu.dh0, cpu.dh0}}};
  if (c.gate != GateKind::kNone) outputs.push_back({"dg", {emu.dg, cpu.dg}});
  for (const auto& [name, pair] : outputs) {
    ASSERT_TRUE(pair.first.isfinite().all().item<bool>())
        << name << " has non-finite (unwritten or overflowed) elements: " << Describe(c);
    EXPECT_LE(RelErr(pair.first, pair.second), tol) << name << ": " << Describe(c);
  }
}

// fp16/bf16 against a noise floor: the CPU kernels on the same 16-bit
// inputs (fp32 arithmetic, 16-bit outputs) differ from the CPU kernels run
// in fp32 on those inputs by `floor`; the emulated kernels (tensor-core
// fragments where the planner picks them) must agree with the CPU's 16-bit
// results within `factor` times that floor, per output and gradient.
void ExpectAgreeWithinNoise(const Case& c, const Problem& prob, double factor) {
  Problem wide = prob;
  for (Tensor* t : {&wide.q, &wide.k, &wide.v, &wide.d_o}) *t = t->to(at::kFloat);
  Case c32 = c;
  c32.dtype = at::kFloat;
  const Outputs emu = prob.Execute(c, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
  const Outputs cpu = prob.Execute(c, LinearAttnForwardCpu, LinearAttnBackwardCpu);
  const Outputs ref = wide.Execute(c32, LinearAttnForwardCpu, LinearAttnBackwardCpu);
  struct Row {
    const char* name;
    Tensor emu, cpu, ref;
  };
  std::vector<Row> rows = {{"o", emu.o, cpu.o, ref.o},     {"final_state", emu.ht, cpu.ht, ref.ht},
                           {"dq", emu.dq, cpu.dq, ref.dq}, {"dk", emu.dk, cpu.dk, ref.dk},
                           {"dv", emu.dv, cpu.dv, ref.dv}, {"dh0", emu.dh0, cpu.dh0, ref.dh0}};
  if (c.gate != GateKind::kNone) rows.push_back({"dg", emu.dg, cpu.dg, ref.dg});
  for (const Row& r : rows) {
    ASSERT_TRUE(r.emu.isfinite().all().item<bool>())
        << r.name << " has non-finite (unwritten or overflowed) elements: " << Describe(c);
    // fp32 results (states, gate gradients) are not rounded to 16 bits
    // on the CPU, but the device computes them from operands it holds in
    // 16 bits (decayed keys, the masked intra-chunk matrix): their floor is
    // the input type's unit roundoff (bf16 2^-8, fp16 2^-11).
    const double roundoff = c.dtype == at::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
    const double floor = std::max(RelErr(r.cpu, r.ref), roundoff);
    EXPECT_LE(RelErr(r.emu, r.cpu), factor * floor)
        << r.name << ": " << Describe(c) << " (noise floor " << floor << ")";
  }
}
void ExpectAgreeWithinNoise(const Case& c, double factor) {
  ExpectAgreeWithinNoise(c, Problem(c, 2000 + c.T + c.DK * 7 + static_cast<int>(c.gate)), factor);
}

TEST(CudaKernelEmulated, Fp32MatchesCpuForEveryGate) {
  for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    // Odd dims, T = one full chunk + a ragged one.
    ExpectAgree({2, 70, 3, 9, 7, gate, at::kFloat}, 2e-5);
    // The benchmark's head dim, three chunks (the last ragged).
    ExpectAgree({1, 150, 2, 64, 64, gate, at::kFloat}, 2e-5);
  }
}

TEST(CudaKernelEmulated, Bf16MatchesCpuForEveryGate) {
  // Same bf16 inputs and outputs rounded to bf16 on both sides: they differ
  // by the accumulation order only, and by one bf16 rounding where it tips.
  for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    ExpectAgree({2, 100, 2, 32, 16, gate, at::kBFloat16}, 1e-2);
  }
}

// Every gate kind on tensor cores (sm_90: both types), several chunks with
// a ragged last one, two heads, DK != DV.
TEST(CudaKernelEmulated, TensorCorePathMatchesCpuForEveryGateWithinNoise) {
  for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
      ExpectAgreeWithinNoise({1, 150, 2, 32, 48, gate, dtype}, 3.0);
    }
  }
  // DV much wider than DK: output's and dv's fp32 staging (acc1) outgrows
  // the dead arrays it reuses, and y1 must start after it.
  ExpectAgreeWithinNoise({1, 100, 1, 16, 128, GateKind::kScalar, at::kBFloat16}, 3.0);
}

// The path the planner picks is the one that runs: tensor-core results
// differ in the last bits from the CUDA-core ones (16-bit staged operands),
// so turning tensor cores off (MURMUR_CUDA_TENSOR_CORES=0) changes fp16 on
// sm_75 and bf16 on sm_80, and changes nothing for bf16 on sm_75.
TEST(CudaKernelEmulated, TensorCoresRunWhereTheArchitectureHasThemForTheType) {
  struct Expect {
    int cc;
    at::ScalarType dtype;
    bool tensor_cores;
  };
  for (const Expect& e : {Expect{75, at::kHalf, true}, Expect{75, at::kBFloat16, false},
                          Expect{80, at::kBFloat16, true}}) {
    SetEmulatedComputeCapability(e.cc);
    const Case c{1, 40, 1, 32, 32, GateKind::kScalar, e.dtype};
    const Problem prob(c, 31);
    const Outputs with = prob.Execute(c, LinearAttnForwardCudaEmulated,
                                      LinearAttnBackwardCudaEmulated);
    ASSERT_EQ(setenv("MURMUR_CUDA_TENSOR_CORES", "0", 1), 0);
    const Outputs without = prob.Execute(c, LinearAttnForwardCudaEmulated,
                                         LinearAttnBackwardCudaEmulated);
    unsetenv("MURMUR_CUDA_TENSOR_CORES");
    const bool same = at::equal(with.o, without.o) && at::equal(with.dq, without.dq) &&
                      at::equal(with.dv, without.dv) && at::equal(with.ht, without.ht);
    EXPECT_EQ(same, !e.tensor_cores) << "sm_" << e.cc << " " << Describe(c);
  }
  SetEmulatedComputeCapability(90);
}

// The forward on tensor cores without a per-dim gate runs fused (one pass
// over the chunks per batch-head and value tile, no workspace) where its
// shared memory fits, and chunk-parallel (update walk + output kernel,
// states through the workspace) with MURMUR_CUDA_FUSED_FORWARD=0 or where
// it does not fit; both agree with the CPU. Value tiles: one (DV = 16, 32),
// two (64 at DV = 128) and a ragged pair (32 + 16 at DV = 48); ragged last
// chunks; several batch-heads; fp16 states beyond fp16's range.
TEST(CudaKernelEmulated, FusedAndChunkParallelForwardsBothMatchCpu) {
  // One SM: every call has enough blocks, so each takes its widest tile.
  SetEmulatedMultiProcessorCount(1);
  const Case cases[] = {{2, 150, 2, 32, 48, GateKind::kNone, at::kBFloat16},
                        {1, 200, 2, 128, 128, GateKind::kScalar, at::kBFloat16},
                        {1, 100, 3, 64, 16, GateKind::kScalar, at::kHalf},
                        {1, 130, 1, 16, 32, GateKind::kNone, at::kHalf}};
  for (const Case& c : cases) {
    for (bool fused : {true, false}) {
      if (!fused) {
        ASSERT_EQ(setenv("MURMUR_CUDA_FUSED_FORWARD", "0", 1), 0);
      }
      EXPECT_EQ(LinearAttnForwardCudaEmulatedWorkspaceBytes(ShapeOf(c)) == 0, fused)
          << Describe(c);
      ExpectAgreeWithinNoise(c, 3.0);
      if (c.dtype == at::kHalf) {
        Problem big(c, 63);
        big.h0 = big.h0 * 1e5;
        Case small_scale = c;
        small_scale.scale = 0.01f;
        ExpectAgreeWithinNoise(small_scale, big, 3.0);
      }
      unsetenv("MURMUR_CUDA_FUSED_FORWARD");
    }
  }
  // With an H100's 132 SMs these calls have few blocks: narrower tiles.
  SetEmulatedMultiProcessorCount(132);
  ExpectAgreeWithinNoise({1, 150, 2, 64, 64, GateKind::kScalar, at::kBFloat16}, 3.0);
  ExpectAgreeWithinNoise({2, 100, 1, 32, 48, GateKind::kNone, at::kHalf}, 3.0);
  // Where the fused layout does not fit (D = 128 at 99 KB), the chunk-
  // parallel forward runs without being asked.
  SetEmulatedMaxSharedMemoryPerBlock(99 * 1024);
  EXPECT_GT(LinearAttnForwardCudaEmulatedWorkspaceBytes(
                ShapeOf({1, 64, 1, 128, 128, GateKind::kNone, at::kBFloat16})),
            0u);
  SetEmulatedMaxSharedMemoryPerBlock(227 * 1024);
}

// Any finite scale: 1/sqrt(D) (not a power of two, so the reverse state
// walk's scaled rows need their split copy), zero and negative, on tensor
// cores (no gate, scalar gate) and on CUDA cores.
TEST(CudaKernelEmulated, AnyFiniteScaleMatchesCpu) {
  for (float scale : {0.17677669f, 0.f, -1.3f}) {
    ExpectAgreeWithinNoise({1, 100, 2, 32, 32, GateKind::kNone, at::kBFloat16, scale}, 3.0);
    ExpectAgreeWithinNoise({1, 100, 2, 32, 32, GateKind::kScalar, at::kHalf, scale}, 3.0);
    ExpectAgree({1, 100, 1, 16, 16, GateKind::kPerDim, at::kFloat, scale}, 2e-5);
  }
}

// fp16 states far outside fp16's range, on tensor cores: the chunk states
// go to the products as 16-bit hi + lo pairs, and unscaled, a state above
// 65504 is inf in fp16 and one below 2^-14 loses its low bits (an fp16 hi
// copy of 1e-5 keeps 7 bits, its lo copy none). Large: an initial state of
// 1e5 (o and dq stay in fp16's range through a small scale). Small: keys
// and values of 1e-3 and an initial state of 1e-6, so the states are about
// 1e-5, under a large scale.
TEST(CudaKernelEmulated, Fp16StatesOutsideTheHalfRangeMatchCpu) {
  for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    const Case large{1, 150, 2, 32, 48, gate, at::kHalf, 0.01f};
    Problem big(large, 61);
    big.h0 = big.h0 * 1e5;
    ExpectAgreeWithinNoise(large, big, 3.0);
    const Case small{1, 150, 2, 32, 48, gate, at::kHalf, 1000.f};
    Problem tiny(small, 62);
    tiny.k = (tiny.k.to(at::kFloat) * 1e-3).to(at::kHalf);
    tiny.v = (tiny.v.to(at::kFloat) * 1e-3).to(at::kHalf);
    tiny.h0 = tiny.h0 * 1e-6;
    ExpectAgreeWithinNoise(small, tiny, 3.0);
  }
}

// The state walks fetch the next chunk's tiles in the background
// (async_copy.h); a device's copy lands anywhere between its issue and its
// wait. The other tests land them at the wait (a read that comes too early
// sees the previous chunk's tiles); here they land at the issue (a copy
// into a buffer that is still read clobbers it), every gate, forward and
// reverse walk, ragged last chunk, several state tiles per batch-head; and
// the fused forward, which double-buffers its chunks' tiles the same way.
TEST(CudaKernelEmulated, StateWalksAgreeWhereverTheirBackgroundCopiesLand) {
  SetEmulatedCopiesLandAtIssue(true);
  SetEmulatedMultiProcessorCount(1);  // the fused forward at its widest tiles
  for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
    ExpectAgreeWithinNoise({1, 150, 2, 32, 48, gate, at::kBFloat16}, 3.0);
    ExpectAgreeWithinNoise({1, 200, 1, 128, 128, gate, at::kHalf}, 3.0);
  }
  SetEmulatedMultiProcessorCount(132);
  SetEmulatedCopiesLandAtIssue(false);
}

// Head dims that are not multiples of 16 keep fp16 on CUDA cores.
TEST(CudaKernelEmulated, Fp16WithOddHeadDimsRunsOnCudaCores) {
  ExpectAgreeWithinNoise({2, 70, 1, 9, 24, GateKind::kScalar, at::kHalf}, 3.0);
}

TEST(CudaKernelEmulated, LargestSupportedHeadDimFitsSharedMemory) {
  ExpectAgree({1, 65, 1, 128, 128, GateKind::kPerDim, at::kFloat}, 2e-5);
}

// Bit for bit the same results on a second run (no float atomics: the
// emulated threads interleave differently every run) and with the workspace
// given by the caller, as the binding does from PyTorch's caching allocator.
TEST(CudaKernelEmulated, ReproducibleBitForBitWithOrWithoutACallerWorkspace) {
  const Case c{2, 130, 2, 16, 24, GateKind::kScalar, at::kFloat};
  const Problem prob(c, 77);
  const Outputs own = prob.Execute(c, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
  std::vector<float> ws;
  auto with_workspace = [&ws](size_t bytes, auto* params) {
    ws.assign(bytes / sizeof(float) + 1, std::numeric_limits<float>::quiet_NaN());
    params->workspace = ws.data();
  };
  const Outputs given = prob.Execute(
      c,
      [&](LinearAttnForwardParams p) {
        with_workspace(LinearAttnForwardCudaEmulatedWorkspaceBytes(p), &p);
        LinearAttnForwardCudaEmulated(p);
      },
      [&](LinearAttnBackwardParams bp) {
        with_workspace(LinearAttnBackwardCudaEmulatedWorkspaceBytes(bp), &bp);
        LinearAttnBackwardCudaEmulated(bp);
      });
  for (auto [a, b] : {std::pair{own.o, given.o}, {own.ht, given.ht}, {own.dq, given.dq},
                      {own.dk, given.dk}, {own.dv, given.dv}, {own.dg, given.dg},
                      {own.dh0, given.dh0}}) {
    EXPECT_TRUE(at::equal(a, b));
  }
}

// The workspace size the op asks for holds everything its kernels write:
// given a caller's workspace of exactly that size, NaN-filled and followed
// by canaries, every gate on tensor cores (bf16; fp16, whose split states
// add their scales) and CUDA cores (fp32) leaves the canaries alone and
// gives the same bits as the op's own workspace.
TEST(CudaKernelEmulated, CallerWorkspaceOfTheAskedSizeHoldsEveryWrite) {
  constexpr int64_t kCanaries = 4096;
  constexpr float kCanary = 12345.f;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
      const Case c{2, 150, 2, 32, 48, gate, dtype};
      const Problem prob(c, 91);
      const Outputs own =
          prob.Execute(c, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
      auto run_in_workspace = [&](size_t bytes, auto* params, auto op) {
        const int64_t floats = static_cast<int64_t>(bytes / sizeof(float));
        Tensor buffer = at::full({floats + kCanaries}, kCanary);
        buffer.slice(0, 0, floats).fill_(std::numeric_limits<float>::quiet_NaN());
        params->workspace = buffer.data_ptr();  // 64-byte aligned, as PyTorch's allocator
        op(*params);
        EXPECT_TRUE(at::all(buffer.slice(0, floats) == kCanary).item<bool>())
            << "a kernel wrote past the workspace it asked for: " << Describe(c);
      };
      const Outputs given = prob.Execute(
          c,
          [&](LinearAttnForwardParams p) {
            run_in_workspace(LinearAttnForwardCudaEmulatedWorkspaceBytes(p), &p,
                             LinearAttnForwardCudaEmulated);
          },
          [&](LinearAttnBackwardParams bp) {
            run_in_workspace(LinearAttnBackwardCudaEmulatedWorkspaceBytes(bp), &bp,
                             LinearAttnBackwardCudaEmulated);
          });
      std::vector<std::pair<Tensor, Tensor>> pairs = {
          {own.o, given.o},   {own.ht, given.ht}, {own.dq, given.dq},
          {own.dk, given.dk}, {own.dv, given.dv}, {own.dh0, given.dh0}};
      if (gate != GateKind::kNone) pairs.emplace_back(own.dg, given.dg);  // else never written
      for (const auto& [a, b] : pairs) EXPECT_TRUE(at::equal(a, b)) << Describe(c);
    }
  }
}

// Every architecture the default build targets, and 48 KB without opt-in:
// the emulated device gets that architecture's per-block shared-memory
// limit (arch_limits.h), the launch planner picks chunk and tiles for it,
// and a launch over the limit fails as on the device. Each head dim runs
// in fp32 and bf16, T ragged, the gate kind rotating so every
// architecture sees all three.
struct ArchConfig {
  const char* name;
  size_t smem_per_block;
  int compute_capability;
};
void PrintTo(const ArchConfig& c, std::ostream* os) {
  *os << c.name << " (" << c.smem_per_block / 1024 << " KB per block)";
}

class CudaKernelEmulatedArch : public ::testing::TestWithParam<ArchConfig> {
 protected:
  void SetUp() override {
    SetEmulatedMaxSharedMemoryPerBlock(GetParam().smem_per_block);
    SetEmulatedComputeCapability(GetParam().compute_capability);
  }
  void TearDown() override {
    SetEmulatedMaxSharedMemoryPerBlock(227 * 1024);
    SetEmulatedComputeCapability(90);
  }
};

TEST_P(CudaKernelEmulatedArch, EveryHeadDimMatchesCpuInFp32AndBf16) {
  const GateKind gates[] = {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim};
  int i = 0;
  for (int64_t D : {16, 32, 64, 128}) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      const GateKind gate = gates[i++ % 3];
      ExpectAgree({1, 70, 1, D, D, gate, dtype}, dtype == at::kFloat ? 2e-5 : 1e-2);
    }
  }
}

// fp16 and bf16 on each architecture: tensor cores where it has them for
// the type (fp16 from sm_75, bf16 from sm_80; bf16 on sm_75 stays on CUDA
// cores), every head dim, T ragged, the gate kind rotating.
TEST_P(CudaKernelEmulatedArch, EveryHeadDimMatchesCpuInFp16AndBf16WithinNoise) {
  const GateKind gates[] = {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim};
  int i = GetParam().compute_capability;
  for (int64_t D : {16, 32, 64, 128}) {
    for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
      ExpectAgreeWithinNoise({1, 70, 1, D, D, gates[i++ % 3], dtype}, 3.0);
    }
  }
}

std::vector<ArchConfig> ArchConfigs() {
  std::vector<ArchConfig> configs = {{"default_48KB", kDefaultSmemPerBlock, 90}};
  static std::vector<std::string> names;
  names.reserve(KnownArchs().size());
  for (const ArchLimits& arch : KnownArchs()) {
    names.push_back("sm_" + std::to_string(arch.compute_capability));
    configs.push_back({names.back().c_str(), arch.smem_per_block_optin, arch.compute_capability});
  }
  return configs;
}

INSTANTIATE_TEST_SUITE_P(PerArch, CudaKernelEmulatedArch, ::testing::ValuesIn(ArchConfigs()),
                         [](const ::testing::TestParamInfo<ArchConfig>& info) {
                           return std::string(info.param.name);
                         });

// Less shared memory than even the smallest chunk and tiles need gets a
// clear error naming the sizes, before anything runs.
TEST(CudaKernelEmulated, TooLittleSharedMemoryIsAClearError) {
  SetEmulatedMaxSharedMemoryPerBlock(4 * 1024);
  const Case c{1, 70, 1, 64, 64, GateKind::kNone, at::kFloat};
  const Problem prob(c, 9);
  try {
    prob.Execute(c, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
    ADD_FAILURE() << "ran with 4 KB of shared memory: " << Describe(c);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("KB of shared memory per block"), std::string::npos) << what;
    EXPECT_NE(what.find("this GPU allows 4 KB"), std::string::npos) << what;
  }
  SetEmulatedMaxSharedMemoryPerBlock(227 * 1024);
}

// MURMUR_CUDA_MAX_SMEM_PER_BLOCK lowers the limit the planner sees (how
// gpu_check.py runs every architecture's plan on one GPU), never raises it.
TEST(CudaKernelEmulated, TheEnvironmentCapLowersTheSharedMemoryLimit) {
  const Case c{1, 70, 1, 64, 64, GateKind::kScalar, at::kFloat};
  ASSERT_EQ(setenv("MURMUR_CUDA_MAX_SMEM_PER_BLOCK", "4096", 1), 0);
  try {
    ExpectAgree(c, 2e-5);
    ADD_FAILURE() << "ran under a 4 KB cap";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("this GPU allows 4 KB"), std::string::npos) << e.what();
  }
  ASSERT_EQ(setenv("MURMUR_CUDA_MAX_SMEM_PER_BLOCK", "49152", 1), 0);
  ExpectAgree(c, 2e-5);
  SetEmulatedMaxSharedMemoryPerBlock(64 * 1024);  // the device's is lower: it wins
  ASSERT_EQ(setenv("MURMUR_CUDA_MAX_SMEM_PER_BLOCK", "1000000", 1), 0);
  ExpectAgree(c, 2e-5);
  SetEmulatedMaxSharedMemoryPerBlock(227 * 1024);
  unsetenv("MURMUR_CUDA_MAX_SMEM_PER_BLOCK");
}

TEST(CudaKernelEmulated, RejectsWhatTheKernelsCannotRun) {
  const Problem prob({1, 8, 1, 129, 8, GateKind::kNone, at::kFloat}, 5);
  const Case wide{1, 8, 1, 129, 8, GateKind::kNone, at::kFloat};
  try {
    prob.Execute(wide, LinearAttnForwardCudaEmulated, LinearAttnBackwardCudaEmulated);
    FAIL() << "DK=129 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("up to 128"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace murmur::kernels
