// The launch planner (launch_plan.h) against the per-architecture limits
// (arch_limits.h): every head dim the kernels take gets a plan that fits
// every architecture's per-block limit, 48 KB without opt-in included; the
// widest tiles where they fit; a clear error where nothing fits.
#include "kernels/cuda/launch_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/arch_limits.h"

namespace murmur::kernels {
namespace {

constexpr size_t KB = 1024;

std::string Describe(const ProblemShape& s, size_t limit) {
  return "DK=" + std::to_string(s.DK) + " DV=" + std::to_string(s.DV) +
         " gate=" + std::to_string(static_cast<int>(s.gate)) +
         (s.backward ? " backward" : " forward") + " limit=" + std::to_string(limit / KB) + " KB";
}

TEST(LaunchPlan, EveryHeadDimFitsEveryArchitectureAndTheDefault48Kb) {
  std::vector<size_t> limits = {kDefaultSmemPerBlock};
  for (const ArchLimits& arch : KnownArchs()) limits.push_back(arch.smem_per_block_optin);
  for (size_t limit : limits) {
    for (int64_t D : {16, 32, 64, 128, 9}) {
      for (GateKind gate : {GateKind::kNone, GateKind::kScalar, GateKind::kPerDim}) {
        for (bool backward : {false, true}) {
          const ProblemShape shape{D, D, gate, backward};
          const PlanOutcome out = PlanLaunch(shape, limit);
          ASSERT_TRUE(out.ok) << Describe(shape, limit) << ": " << out.error;
          const TileShape& t = out.plan.tiles;
          EXPECT_LE(out.plan.smem_bytes, limit) << Describe(shape, limit);
          EXPECT_EQ(out.plan.needs_opt_in, out.plan.smem_bytes > 48 * KB);
          EXPECT_EQ(t.chunk, 64) << "C=64 fits at every limit: " << Describe(shape, limit);
          EXPECT_GE(t.key_tile, std::min<int64_t>(D, 16));
          EXPECT_LE(t.key_tile, D);
          EXPECT_LE(t.value_tile, D);
          EXPECT_EQ(t.gate_width,
                    gate == GateKind::kPerDim ? t.key_tile : gate == GateKind::kScalar ? 1 : 0);
        }
      }
    }
  }
}

TEST(LaunchPlan, WholeHeadDimsOnAnH100AndTilesOnSmallerGpus) {
  const ProblemShape gla_fwd{128, 128, GateKind::kPerDim, false};
  const PlanOutcome h100_fwd = PlanLaunch(gla_fwd, FindArch(90)->smem_per_block_optin);
  ASSERT_TRUE(h100_fwd.ok);
  EXPECT_EQ(h100_fwd.plan.tiles.key_tile, 128);
  EXPECT_EQ(h100_fwd.plan.tiles.value_tile, 128);
  EXPECT_TRUE(h100_fwd.plan.needs_opt_in);
  // The backward's dq/dk kernel holds Q, K, gates, dA, dO, V and two
  // accumulators: at D=128 its value tiles are halved even on an H100.
  const ProblemShape gla_bwd{128, 128, GateKind::kPerDim, true};
  const PlanOutcome h100 = PlanLaunch(gla_bwd, FindArch(90)->smem_per_block_optin);
  ASSERT_TRUE(h100.ok);
  EXPECT_EQ(h100.plan.tiles.key_tile, 128);
  EXPECT_EQ(h100.plan.tiles.value_tile, 64);
  const PlanOutcome t4 = PlanLaunch(gla_bwd, FindArch(75)->smem_per_block_optin);
  ASSERT_TRUE(t4.ok);
  EXPECT_LT(t4.plan.tiles.key_tile * t4.plan.tiles.value_tile, 128 * 128);
  const PlanOutcome plain = PlanLaunch(gla_bwd, 48 * KB);
  ASSERT_TRUE(plain.ok);
  EXPECT_FALSE(plain.plan.needs_opt_in);
  // A small problem fits without tiling even at 48 KB.
  const PlanOutcome small = PlanLaunch({16, 16, GateKind::kScalar, true}, 48 * KB);
  ASSERT_TRUE(small.ok);
  EXPECT_EQ(small.plan.tiles.key_tile, 16);
  EXPECT_EQ(small.plan.tiles.value_tile, 16);
}

// Of tile shapes with equal areas the forward takes the wider value tile:
// its output kernel recomputes A = Q K^T in every value tile's block.
TEST(LaunchPlan, TheForwardPrefersWideValueTilesAtEqualArea) {
  ProblemShape bf16{128, 128, GateKind::kNone, false, DType::kBFloat16};
  const PlanOutcome fwd = PlanLaunch(bf16, 48 * KB);
  ASSERT_TRUE(fwd.ok);
  EXPECT_EQ(fwd.plan.tiles.key_tile, 32);  // 128 x 16 would fit too
  EXPECT_EQ(fwd.plan.tiles.value_tile, 64);
  const PlanOutcome fp32 = PlanLaunch({128, 128, GateKind::kScalar, false}, 99 * KB);
  ASSERT_TRUE(fp32.ok);
  EXPECT_EQ(fp32.plan.tiles.key_tile, 32);
  EXPECT_EQ(fp32.plan.tiles.value_tile, 128);
}

// The fused forward: tensor cores, no per-dim gate, forward only, where its
// layout fits; the widest value tile that does.
TEST(LaunchPlan, FusedForwardWhereItFitsAtItsWidestValueTile) {
  const size_t h100 = FindArch(90)->smem_per_block_optin;
  const ProblemShape bench{128, 128, GateKind::kNone, false, DType::kBFloat16};
  EXPECT_EQ(FusedForwardValueTile(bench, h100), 64);
  EXPECT_EQ(FusedForwardValueTile(bench, FindArch(80)->smem_per_block_optin), 64);  // 163 KB
  EXPECT_EQ(FusedForwardValueTile(bench, FindArch(86)->smem_per_block_optin), 0);   // 99 KB
  ProblemShape scalar = bench;
  scalar.gate = GateKind::kScalar;
  EXPECT_EQ(FusedForwardValueTile(scalar, h100), 64);
  EXPECT_EQ(FusedForwardValueTile(scalar, 163 * KB), 32);  // the gates' arrays push 64 over
  const ProblemShape d64{64, 64, GateKind::kScalar, false, DType::kBFloat16};
  EXPECT_EQ(FusedForwardValueTile(d64, 99 * KB), 32);
  EXPECT_EQ(FusedForwardValueTile({16, 16, GateKind::kNone, false, DType::kBFloat16}, 48 * KB),
            16);
  // Fewer blocks than SMs: narrower tiles while twice the blocks still fit.
  const ProblemShape d64_plain{64, 64, GateKind::kNone, false, DType::kBFloat16};
  EXPECT_EQ(FusedForwardValueTile(d64_plain, h100), 64);
  EXPECT_EQ(FusedForwardValueTile(d64_plain, h100, 64, 132), 32);    // 128 blocks, not 64
  EXPECT_EQ(FusedForwardValueTile(d64_plain, h100, 16, 132), 16);    // 64 blocks, not 16
  EXPECT_EQ(FusedForwardValueTile(d64_plain, h100, 100, 132), 64);   // 200 would not fit
  EXPECT_EQ(FusedForwardValueTile(bench, h100, 64, 132), 64);        // 256 would not fit
  EXPECT_EQ(FusedForwardValueTile(bench, h100, 32, 132), 32);
  // Not where it does not apply.
  ProblemShape other = bench;
  other.gate = GateKind::kPerDim;
  EXPECT_EQ(FusedForwardValueTile(other, h100), 0);
  other = bench;
  other.backward = true;
  EXPECT_EQ(FusedForwardValueTile(other, h100), 0);
  other = bench;
  other.dtype = DType::kFloat32;
  EXPECT_EQ(FusedForwardValueTile(other, h100), 0);
  other = bench;
  other.fused_forward = false;  // MURMUR_CUDA_FUSED_FORWARD=0
  EXPECT_EQ(FusedForwardValueTile(other, h100), 0);
  other = bench;
  other.compute_capability = 75;  // no bf16 tensor cores
  EXPECT_EQ(FusedForwardValueTile(other, h100), 0);
  // Its layout: every array 32-byte aligned, none overlapping, in the order
  // and sizes launch_plan.h gives.
  for (int gate_width : {0, 1}) {
    const TileShape t{64, 128, 64, gate_width, true, true};
    const SmemLayout l = LayoutOf(ChunkKernel::kFusedForward, t);
    EXPECT_EQ(l.ld_qk, RowPitch(128, 2));
    EXPECT_EQ(l.ld_s, RowPitch(64, 2));
    std::vector<std::pair<int, int>> arrays = {
        {l.q, 64 * l.ld_qk * 2},   {l.k, 64 * l.ld_qk * 2},   {l.q2, 64 * l.ld_qk * 2},
        {l.k2, 64 * l.ld_qk * 2},  {l.y1, 64 * l.ld_y * 2},   {l.y2, 64 * l.ld_y * 2},
        {l.a16, 64 * l.ld_a16 * 2}, {l.shi, 128 * l.ld_s * 2}, {l.slo, 128 * l.ld_s * 2},
        {l.sscale, 8 * 4 * 4},     {l.acc1, 64 * l.ld_acc * 4}, {l.coords, 16 * 16 * 4}};
    if (gate_width > 0) {
      arrays.insert(arrays.end(),
                    {{l.b, 64 * 4}, {l.b2, 64 * 4}, {l.G, 4}, {l.xlo, 64 * l.ld_qk * 2}});
    } else {
      EXPECT_EQ(l.b, -1);
      EXPECT_EQ(l.xlo, -1);
    }
    std::sort(arrays.begin(), arrays.end());
    for (size_t i = 0; i < arrays.size(); ++i) {
      EXPECT_GE(arrays[i].first, 0);
      EXPECT_EQ(arrays[i].first % 32, 0);
      const int end = arrays[i].first + arrays[i].second;
      EXPECT_LE(end, i + 1 < arrays.size() ? arrays[i + 1].first : l.bytes);
    }
    EXPECT_EQ(l.a, -1);  // A stays in fragments up to a16
  }
}

// The state walks run at the plan's tiles capped at kCudaWalkTile, and
// the plan counts their layouts at those tiles: at D = 128 with a per-dim
// gate the walk's double buffers at 128-wide tiles would need more than
// the dq/dk kernel.
TEST(LaunchPlan, CountsTheStateWalksAtTheirOwnTiles) {
  const ProblemShape shape{128, 128, GateKind::kPerDim, true, DType::kBFloat16, 90, true};
  const PlanOutcome out = PlanLaunch(shape, 227 * KB);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.plan.tiles.key_tile, 128);
  const TileShape walk{64, kCudaWalkTile, kCudaWalkTile, kCudaWalkTile, true};
  EXPECT_LT(LayoutOf(ChunkKernel::kUpdate, walk).Bytes(), out.plan.smem_bytes);
  EXPECT_GT(LayoutOf(ChunkKernel::kUpdate, out.plan.tiles).Bytes(), out.plan.smem_bytes);
  EXPECT_EQ(out.plan.smem_bytes, LayoutOf(ChunkKernel::kGradQK, out.plan.tiles).Bytes());
}

TEST(LaunchPlan, ShrinksTheChunkOnlyWhenTilesAreNotEnough) {
  // 20 KB: C=64 with 16-wide tiles needs ~44 KB for the backward; C=32 fits.
  const PlanOutcome out = PlanLaunch({128, 128, GateKind::kPerDim, true}, 20 * KB);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_LT(out.plan.tiles.chunk, 64);
  EXPECT_LE(out.plan.smem_bytes, 20 * KB);
}

// Eight consecutive rows of every staged array start in eight different
// 16-byte groups of the 32 banks (a fragment load's wavefront is 8 rows of
// 16 bytes), with a pitch fragment loads accept: a multiple of 16 bytes,
// and 16 rows a multiple of 32 bytes.
TEST(LaunchPlan, RowPitchesAvoidBankConflictsAndKeepFragmentAlignment) {
  EXPECT_EQ(RowPitch(128, 2), 136);  // 256-byte rows (all in the same banks) padded by 16
  EXPECT_EQ(RowPitch(64, 4), 68);
  EXPECT_EQ(RowPitch(48, 2), 56);  // 96 bytes: rows 2 groups apart pair up; 112 do not
  EXPECT_EQ(RowPitch(16, 2), 24);
  EXPECT_EQ(RowPitch(9, 4), 12);  // 36 bytes round up to 48: already odd
  for (int element_bytes : {2, 4}) {
    for (int width = 1; width <= 128; ++width) {
      const int pitch = RowPitch(width, element_bytes);
      const int bytes = pitch * element_bytes;
      EXPECT_GE(pitch, width);
      EXPECT_EQ(bytes % 16, 0) << width;
      EXPECT_EQ(16 * bytes % 32, 0) << width;
      bool group_used[8] = {};
      for (int row = 0; row < 8; ++row) {
        const int group = row * bytes / 16 % 8;
        EXPECT_FALSE(group_used[group]) << "width " << width << " x" << element_bytes;
        group_used[group] = true;
      }
    }
  }
}

// The CUDA-core path (fp32 staging) keeps its rows unpadded.
TEST(LaunchPlan, LayoutsDoNotOverlapAndMatchTheirSize) {
  const TileShape t{64, 32, 16, 32};
  const SmemLayout l = LayoutOf(ChunkKernel::kGradQK, t);  // offsets in bytes
  const int q = 4 * 64 * 32, y = 4 * 64 * 16;
  EXPECT_EQ(l.ld_qk, 32);
  EXPECT_EQ(l.ld_y, 16);
  EXPECT_EQ(l.ld_a, 64);
  EXPECT_EQ(l.ld_acc, 32);  // dq, dk: key-tile wide
  EXPECT_EQ(l.q, 0);
  EXPECT_EQ(l.k, q);
  EXPECT_EQ(l.b, 2 * q);
  EXPECT_EQ(l.G, 2 * q + 4 * 64 * 32);
  EXPECT_EQ(l.a, l.G + 4 * 32);
  EXPECT_EQ(l.y1, l.a + 4 * 64 * 64);
  EXPECT_EQ(l.y2, l.y1 + y);
  EXPECT_EQ(l.acc1, l.y2 + y);
  EXPECT_EQ(l.acc2, l.acc1 + q);
  EXPECT_EQ(l.a16, -1);
  EXPECT_EQ(l.Bytes(), static_cast<size_t>(l.acc2 + q));
  const SmemLayout u = LayoutOf(ChunkKernel::kUpdate, {64, 32, 16, 0});
  EXPECT_EQ(u.q, -1);
  EXPECT_EQ(u.b, -1);
  EXPECT_EQ(u.a, -1);
  EXPECT_EQ(u.y2, -1);
  EXPECT_EQ(u.acc1, -1);
  EXPECT_EQ(u.a16, -1);
  EXPECT_EQ(u.Bytes(), static_cast<size_t>(q + y));
  EXPECT_EQ(LayoutOf(ChunkKernel::kOutput, t).ld_acc, 16);  // value-tile wide
}

// The tensor-core path stages q, k, v, dO and the masked A as 16-bit
// values, every array 32-byte aligned (fragment loads need it), every row
// padded against bank conflicts (RowPitch) but the gates' (not a fragment
// operand).
TEST(LaunchPlan, TensorCoreLayoutsStageSixteenBitTilesAligned) {
  const TileShape t{64, 32, 16, 1, /*tensor_cores=*/true};
  const SmemLayout l = LayoutOf(ChunkKernel::kOutput, t);
  const int q = 2 * 64 * RowPitch(32, 2), a16 = 2 * 64 * RowPitch(64, 2);
  EXPECT_EQ(l.ld_qk, RowPitch(32, 2));
  EXPECT_EQ(l.ld_a16, RowPitch(64, 2));
  EXPECT_EQ(l.k, q);
  EXPECT_EQ(l.b, 2 * q);
  EXPECT_EQ(l.G, l.b + 4 * 64);
  EXPECT_EQ(l.a, l.G + 32);  // one float, padded to 32 bytes
  EXPECT_EQ(l.y1, l.a + 4 * 64 * RowPitch(64, 4));
  EXPECT_EQ(l.a16, l.y1 + 2 * 64 * RowPitch(16, 2));
  EXPECT_EQ(l.coords, l.a16 + a16);  // a16 is written from A's fragments
  EXPECT_EQ(l.Bytes(), static_cast<size_t>(l.coords + 4 * 16 * 16));
  for (int offset : {l.q, l.k, l.b, l.G, l.a, l.y1, l.acc1, l.a16, l.coords}) {
    EXPECT_EQ(offset % 32, 0);
  }
  // Output and dv stage their finished results (acc1) over q, k, the gates
  // and a, which their epilogue no longer reads; never over y1 or a16, which
  // it does. Where acc1 is the larger, y1 starts after it.
  for (ChunkKernel kernel : {ChunkKernel::kOutput, ChunkKernel::kGradV}) {
    for (const TileShape& shape : {t, TileShape{64, 16, 128, 0, true}}) {
      const SmemLayout m = LayoutOf(kernel, shape);
      const int acc1_bytes = 4 * 64 * RowPitch(shape.value_tile, 4);
      EXPECT_EQ(m.acc1, 0);
      EXPECT_EQ(m.y1, std::max(m.a + 4 * 64 * RowPitch(64, 4), (acc1_bytes + 31) / 32 * 32));
      EXPECT_LE(m.acc1 + acc1_bytes, m.y1);
      EXPECT_GT(m.a16, m.y1);
    }
  }
  // At the bench shape (D = 128, whole head dims): 78 KB instead of 110
  // with several key tiles, two blocks per SM on an A100 or a Jetson Orin
  // (163 KB) instead of one; with one key tile, as the plan has it, A goes
  // from fragments to a16 with no fp32 a: 61 KB, three blocks per SM on an
  // H100/H200 (227 KB) instead of two.
  EXPECT_EQ(LayoutOf(ChunkKernel::kOutput, {64, 128, 128, 0, true}).Bytes(), 79872u);
  for (ChunkKernel kernel : {ChunkKernel::kOutput, ChunkKernel::kGradV}) {
    const SmemLayout one = LayoutOf(kernel, {64, 128, 128, 0, true, /*one_key_tile=*/true});
    EXPECT_EQ(one.a, -1);
    EXPECT_EQ(one.Bytes(), 62464u);
    // A per-dim gate's A is elementwise, through fp32 a, on tensor cores too.
    EXPECT_NE(LayoutOf(kernel, {64, 128, 128, 128, true, true}).a, -1);
    // The CUDA-core path sums A in a.
    EXPECT_NE(LayoutOf(kernel, {64, 128, 128, 0, false, true}).a, -1);
  }
  EXPECT_NE(LayoutOf(ChunkKernel::kGradQK, {64, 128, 128, 0, true, true}).a, -1);  // dA
  EXPECT_EQ(l.xlo, -1);
  EXPECT_EQ(l.a16lo, -1);
  // The low parts: of the decayed key tile in the gated state products, of
  // dA in grad_qk; last, 16-bit, aligned.
  const SmemLayout u = LayoutOf(ChunkKernel::kUpdate, t);
  EXPECT_EQ(u.xlo, u.coords - q);
  EXPECT_EQ(u.coords, u.Bytes() - 4 * 16 * 16);  // the state walk's coordinate table
  // The state walks double-buffer a chunk's raw tiles: q/k, y1/y2, b/b2.
  for (ChunkKernel walk : {ChunkKernel::kUpdate, ChunkKernel::kDState}) {
    const SmemLayout w = LayoutOf(walk, t);
    EXPECT_EQ(w.q, 0);
    EXPECT_EQ(w.k, q);
    EXPECT_EQ(w.b2, w.b + 4 * 64);
    EXPECT_EQ(w.y2, w.y1 + 2 * 64 * RowPitch(16, 2));
    EXPECT_EQ(LayoutOf(walk, {64, 32, 16, 0, true}).b2, -1);  // no gate
  }
  EXPECT_EQ(LayoutOf(ChunkKernel::kUpdate, {64, 32, 16, 1, false}).b2, -1);  // CUDA cores
  EXPECT_EQ(LayoutOf(ChunkKernel::kUpdate, {64, 32, 16, 0, true}).xlo, -1);  // no gate
  EXPECT_NE(LayoutOf(ChunkKernel::kDState, {64, 32, 16, 0, true}).xlo, -1);  // the scale
  // grad_qk keeps dq and dk in fragments: a coordinate table, no
  // accumulators. Its 16-bit dA (hi, lo) is written after the value tiles'
  // loop, over y1 and y2; here (16-wide value tiles) it is the larger.
  const SmemLayout g = LayoutOf(ChunkKernel::kGradQK, t);
  EXPECT_EQ(g.acc1, -1);
  EXPECT_EQ(g.acc2, -1);
  EXPECT_EQ(g.a16, g.y1);
  EXPECT_EQ(g.a16lo, g.a16 + a16);
  EXPECT_EQ(g.a16lo % 32, 0);
  EXPECT_EQ(g.coords, g.a16lo + a16);
  EXPECT_EQ(g.Bytes(), static_cast<size_t>(g.coords + 4 * 16 * 16));
  // With wide value tiles y1 and y2 are the larger: coords follows y2.
  const SmemLayout wide = LayoutOf(ChunkKernel::kGradQK, {64, 32, 128, 1, true});
  EXPECT_EQ(wide.a16, wide.y1);
  EXPECT_EQ(wide.coords, wide.y2 + 2 * 64 * RowPitch(128, 2));
  // A per-dim gate (its width the key tile's) has no 16-bit dA.
  const SmemLayout per_dim = LayoutOf(ChunkKernel::kGradQK, {64, 32, 16, 32, true});
  EXPECT_EQ(per_dim.a16, -1);
  EXPECT_EQ(per_dim.a16lo, -1);
  EXPECT_EQ(per_dim.coords, per_dim.y2 + 2 * 64 * RowPitch(16, 2));
  EXPECT_EQ(LayoutOf(ChunkKernel::kGradQK, {64, 32, 16, 0, false}).coords, -1);
  EXPECT_EQ(LayoutOf(ChunkKernel::kGradQK, {64, 32, 16, 1, false}).a16lo, -1);
  // At the bench shape: 86 KB instead of 104.
  EXPECT_EQ(LayoutOf(ChunkKernel::kGradQK, {64, 128, 128, 0, true}).Bytes(), 88064u);
}

// fp16 on sm_75 and later, bf16 on sm_80 and later, fp32 never; head dims
// must be multiples of 16; MURMUR_CUDA_TENSOR_CORES=0 (tensor_cores false)
// turns the path off.
TEST(LaunchPlan, TensorCoresWhereTheArchitectureHasThemForTheInputType) {
  ProblemShape s{64, 64, GateKind::kScalar, true};
  s.compute_capability = 75;
  s.dtype = DType::kFloat16;
  EXPECT_TRUE(UsesTensorCores(s));
  s.dtype = DType::kBFloat16;
  EXPECT_FALSE(UsesTensorCores(s));
  s.compute_capability = 80;
  EXPECT_TRUE(UsesTensorCores(s));
  s.dtype = DType::kFloat32;
  EXPECT_FALSE(UsesTensorCores(s));
  s.dtype = DType::kBFloat16;
  s.DK = 24;
  EXPECT_FALSE(UsesTensorCores(s));
  s.DK = 64;
  s.tensor_cores = false;
  EXPECT_FALSE(UsesTensorCores(s));
  s.tensor_cores = true;
  const PlanOutcome plan = PlanLaunch(s, FindArch(80)->smem_per_block_optin);
  ASSERT_TRUE(plan.ok) << plan.error;
  EXPECT_TRUE(plan.plan.tiles.tensor_cores);
  // 16-bit staging is smaller: every D <= 128 still fits 48 KB.
  for (int64_t D : {16, 32, 64, 128}) {
    ProblemShape big{D, D, GateKind::kPerDim, true, DType::kFloat16, 75, true};
    const PlanOutcome fits = PlanLaunch(big, 48 * KB);
    ASSERT_TRUE(fits.ok) << fits.error;
    EXPECT_LE(fits.plan.smem_bytes, 48 * KB);
  }
}

TEST(LaunchPlan, ImpossibleConfigurationsAreAClearError) {
  const PlanOutcome tiny = PlanLaunch({64, 64, GateKind::kNone, true}, 4 * KB);
  ASSERT_FALSE(tiny.ok);
  EXPECT_NE(tiny.error.find("KB of shared memory per block"), std::string::npos) << tiny.error;
  EXPECT_NE(tiny.error.find("this GPU allows 4 KB"), std::string::npos) << tiny.error;
  const PlanOutcome wide = PlanLaunch({129, 8, GateKind::kNone, false}, 227 * KB);
  ASSERT_FALSE(wide.ok);
  EXPECT_NE(wide.error.find("up to 128"), std::string::npos) << wide.error;
}

TEST(ArchLimits, TheSixTargetArchitecturesWithTheirOptInLimits) {
  ASSERT_EQ(KnownArchs().size(), 6u);
  EXPECT_EQ(FindArch(75)->smem_per_block_optin, 64 * KB);
  EXPECT_EQ(FindArch(80)->smem_per_block_optin, 163 * KB);
  EXPECT_EQ(FindArch(86)->smem_per_block_optin, 99 * KB);
  EXPECT_EQ(FindArch(87)->smem_per_block_optin, 163 * KB);
  EXPECT_EQ(FindArch(89)->smem_per_block_optin, 99 * KB);
  EXPECT_EQ(FindArch(90)->smem_per_block_optin, 227 * KB);
  EXPECT_EQ(FindArch(70), nullptr);
  for (const ArchLimits& a : KnownArchs()) EXPECT_EQ(a.smem_per_block, 48 * KB);
}

}  // namespace
}  // namespace murmur::kernels
