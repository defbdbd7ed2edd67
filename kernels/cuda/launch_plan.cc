#include "kernels/cuda/launch_plan.h"

#include <algorithm>
#include <vector>

namespace murmur::kernels {
namespace {

// Candidate tile widths for a head dim, widest first: the whole dim, then
// 64, 32 and 16 where narrower.
std::vector<int> TileWidths(int64_t dim) {
  std::vector<int> widths = {static_cast<int>(dim)};
  for (int w : {64, 32, 16}) {
    if (w < dim) widths.push_back(w);
  }
  return widths;
}

int GateWidth(GateKind gate, int key_tile) {
  switch (gate) {
    case GateKind::kNone: return 0;
    case GateKind::kScalar: return 1;
    case GateKind::kPerDim: return key_tile;
  }
  return 0;
}

size_t NeededBytes(const ProblemShape& shape, const TileShape& tiles) {
  size_t most = 0;
  for (ChunkKernel kernel : {ChunkKernel::kUpdate, ChunkKernel::kOutput, ChunkKernel::kDState,
                             ChunkKernel::kGradQK, ChunkKernel::kGradV}) {
    const bool forward_kernel = kernel == ChunkKernel::kUpdate || kernel == ChunkKernel::kOutput;
    // The backward recomputes the states with the update kernel, not the output one.
    if (shape.backward ? kernel == ChunkKernel::kOutput : !forward_kernel) continue;
    TileShape t = tiles;
    if (t.tensor_cores && (kernel == ChunkKernel::kUpdate || kernel == ChunkKernel::kDState)) {
      // The state walks' tiles (launch_plan.h: kCudaWalkTile).
      t.key_tile = std::min(t.key_tile, kCudaWalkTile);
      t.value_tile = std::min(t.value_tile, kCudaWalkTile);
      t.gate_width = GateWidth(shape.gate, t.key_tile);
    }
    most = std::max(most, LayoutOf(kernel, t).Bytes());
  }
  return most;
}

std::string Kb(size_t bytes) { return std::to_string((bytes + 1023) / 1024) + " KB"; }

}  // namespace

const char* ChunkKernelName(ChunkKernel kernel) {
  switch (kernel) {
    case ChunkKernel::kUpdate: return "update";
    case ChunkKernel::kOutput: return "output";
    case ChunkKernel::kDState: return "dstate";
    case ChunkKernel::kGradQK: return "grad_qk";
    case ChunkKernel::kGradV: return "grad_v";
    case ChunkKernel::kFusedForward: return "fused_forward";
    case ChunkKernel::kCount: break;
  }
  return "?";
}

namespace {

// The fused forward's arrays (launch_plan.h), 16-bit tiles padded
// (RowPitch), each 32-byte aligned.
SmemLayout FusedForwardLayout(const TileShape& t) {
  SmemLayout l;
  l.ld_qk = RowPitch(t.key_tile, 2);
  l.ld_y = RowPitch(t.value_tile, 2);
  l.ld_a16 = RowPitch(t.chunk, 2);
  l.ld_acc = RowPitch(t.value_tile, 4);
  l.ld_s = RowPitch(t.value_tile, 2);
  int at = 0;
  auto take = [&at](int bytes) {
    const int start = at;
    at += (bytes + 31) / 32 * 32;
    return start;
  };
  const int tile = t.chunk * l.ld_qk * 2;
  l.q = take(tile);
  l.k = take(tile);
  l.q2 = take(tile);
  l.k2 = take(tile);
  l.y1 = take(t.chunk * l.ld_y * 2);
  l.y2 = take(t.chunk * l.ld_y * 2);
  if (t.gate_width > 0) {
    l.b = take(t.chunk * t.gate_width * 4);
    l.b2 = take(t.chunk * t.gate_width * 4);
    l.G = take(t.gate_width * 4);
    l.xlo = take(tile);
  }
  l.a16 = take(t.chunk * l.ld_a16 * 2);
  l.shi = take(t.key_tile * l.ld_s * 2);
  l.slo = take(t.key_tile * l.ld_s * 2);
  l.sscale = take((t.key_tile / 16) * (t.value_tile / 16) * 4);
  l.acc1 = take(t.chunk * l.ld_acc * 4);
  l.coords = take(16 * 16 * 4);
  l.bytes = at;
  return l;
}

}  // namespace

SmemLayout LayoutOf(ChunkKernel kernel, const TileShape& t) {
  if (kernel == ChunkKernel::kFusedForward) return FusedForwardLayout(t);
  // The state walks: raw tiles double-buffered in q/k, y1/y2, b/b2.
  const bool walk =
      t.tensor_cores && (kernel == ChunkKernel::kUpdate || kernel == ChunkKernel::kDState);
  const bool q = kernel == ChunkKernel::kOutput || kernel == ChunkKernel::kDState ||
                 kernel == ChunkKernel::kGradQK || kernel == ChunkKernel::kGradV || walk;
  const bool k = kernel != ChunkKernel::kDState || walk;
  // Output and dv on tensor cores without a per-dim gate keep A in
  // fragments across one key tile and write it to a16 (TcAccumulateA): an
  // fp32 a only carries it from key tile to key tile.
  const bool a16_from_fragments = t.tensor_cores && t.gate_width <= 1 &&
                                  (kernel == ChunkKernel::kOutput || kernel == ChunkKernel::kGradV);
  const bool a_read = kernel == ChunkKernel::kOutput || kernel == ChunkKernel::kGradQK ||
                      kernel == ChunkKernel::kGradV;
  const bool a = a_read && !(a16_from_fragments && t.one_key_tile);
  const int ys = kernel == ChunkKernel::kGradQK || walk ? 2 : 1;
  const int stage = t.tensor_cores ? 2 : 4;  // bytes per staged q, k, y element
  const int f32 = 4;
  // Rows padded (RowPitch) where tensor-core fragments load them; the
  // CUDA-core path reads elementwise and keeps its rows unpadded, so its
  // plans are those of before (a 48 KB block still takes C = 64).
  auto pitch = [&t](int width, int element_bytes) {
    return t.tensor_cores ? RowPitch(width, element_bytes) : width;
  };
  SmemLayout l;
  l.ld_qk = pitch(t.key_tile, stage);
  l.ld_y = pitch(t.value_tile, stage);
  l.ld_a = pitch(t.chunk, f32);
  l.ld_a16 = pitch(t.chunk, 2);
  l.ld_acc = pitch(kernel == ChunkKernel::kGradQK ? t.key_tile : t.value_tile, f32);
  int at = 0;
  auto take = [&at](int bytes) {
    const int start = at;
    at += (bytes + 31) / 32 * 32;  // the next array 32-byte aligned
    return start;
  };
  auto rows = [&t](int pitch, int element_bytes) { return t.chunk * pitch * element_bytes; };
  if (q) l.q = take(rows(l.ld_qk, stage));
  if (k) l.k = take(rows(l.ld_qk, stage));
  if (t.gate_width > 0) {
    l.b = take(rows(t.gate_width, f32));
    if (walk) l.b2 = take(rows(t.gate_width, f32));
    l.G = take(t.gate_width * f32);
  }
  if (a) l.a = take(rows(l.ld_a, f32));
  // Output and dv on tensor cores hold their sums in fragments up to the
  // epilogue, which reads only y1 and a16: acc1 (fp32 staging for 16-byte
  // stores) then reuses the bytes of q, k, the gates and a, all dead by then.
  const bool acc1_over_dead = t.tensor_cores && (kernel == ChunkKernel::kOutput ||
                                                 kernel == ChunkKernel::kGradV);
  if (acc1_over_dead) {
    l.acc1 = 0;
    at = std::max(at, (rows(l.ld_acc, f32) + 31) / 32 * 32);
  }
  l.y1 = take(rows(l.ld_y, stage));
  if (ys == 2) l.y2 = take(rows(l.ld_y, stage));
  if (kernel == ChunkKernel::kGradQK && t.tensor_cores) {
    // The masked dA as 16-bit hi (a16) and lo (a16lo), written after the
    // value-tile loop, over y1 and y2 (dO and v: dead by then). A per-dim
    // gate's dA stays fp32 (its decay sits inside the sums): no a16. (A
    // per-dim gate's width is the key tile's, 16 or more on tensor cores.)
    if (t.gate_width <= 1) {
      const int half = (rows(l.ld_a16, 2) + 31) / 32 * 32;
      l.a16 = l.y1;
      l.a16lo = l.y1 + half;
      at = std::max(at, l.a16lo + half);
    }
    l.coords = take(16 * 16 * f32);  // dq, dk stay in fragments (FillCoordTable)
  } else if (kernel == ChunkKernel::kGradQK) {
    l.acc1 = take(rows(l.ld_acc, f32));
    l.acc2 = take(rows(l.ld_acc, f32));
  } else if ((kernel == ChunkKernel::kOutput || kernel == ChunkKernel::kGradV) &&
             !acc1_over_dead) {
    l.acc1 = take(rows(l.ld_acc, f32));
  }
  if (a_read && t.tensor_cores && kernel != ChunkKernel::kGradQK) {
    l.a16 = take(rows(l.ld_a16, 2));
    if (a16_from_fragments) l.coords = take(16 * 16 * f32);  // where a fragment's elements sit
  }
  const bool state_product = kernel == ChunkKernel::kUpdate || kernel == ChunkKernel::kDState;
  // The low half of a decayed or scaled key tile: gated products, and the
  // reverse state walk (dstate: its rows carry the scale).
  const bool split_rows = t.gate_width > 0 || kernel == ChunkKernel::kDState;
  if (state_product && t.tensor_cores && split_rows) l.xlo = take(rows(l.ld_qk, 2));
  // The tensor-core state walk (update + scan fused) keeps its state in fragments.
  if (state_product && t.tensor_cores) l.coords = take(16 * 16 * f32);
  l.bytes = at;
  return l;
}

bool UsesTensorCores(const ProblemShape& shape) {
  if (!shape.tensor_cores || shape.DK % 16 != 0 || shape.DV % 16 != 0) return false;
  if (shape.dtype == DType::kFloat16) return shape.compute_capability >= 75;
  if (shape.dtype == DType::kBFloat16) return shape.compute_capability >= 80;
  return false;
}

PlanOutcome PlanLaunch(const ProblemShape& shape, size_t smem_per_block_optin) {
  const bool tensor_cores = UsesTensorCores(shape);
  PlanOutcome out;
  if (shape.DK < 1 || shape.DV < 1 || shape.DK > kCudaMaxHeadDim || shape.DV > kCudaMaxHeadDim) {
    out.error = "murmur CUDA kernels support head dims from 1 up to " +
                std::to_string(kCudaMaxHeadDim) + " (got DK=" + std::to_string(shape.DK) +
                ", DV=" + std::to_string(shape.DV) + ")";
    return out;
  }
  size_t smallest = 0;
  for (int chunk : {64, 32, 16}) {
    bool found = false;
    TileShape best;
    for (int kt : TileWidths(shape.DK)) {
      for (int vt : TileWidths(shape.DV)) {
        const TileShape tiles{chunk, kt, vt, GateWidth(shape.gate, kt), tensor_cores,
                              /*one_key_tile=*/kt >= shape.DK};
        const size_t bytes = NeededBytes(shape, tiles);
        if (smallest == 0 || bytes < smallest) smallest = bytes;
        if (bytes > smem_per_block_optin) continue;
        // Widest tiles first (fewest re-reads). Of equal areas, the forward
        // takes the wider value tile: its output kernel recomputes A = Q K^T
        // in every value tile's block (128x16 at D = 128 would compute it 8
        // times per chunk, 32x64 twice); the backward the wider key tile
        // (dq/dk, its largest kernel, recomputes dA per key tile).
        const int64_t area = static_cast<int64_t>(kt) * vt;
        const int64_t best_area = static_cast<int64_t>(best.key_tile) * best.value_tile;
        const bool wider = shape.backward ? kt > best.key_tile : vt > best.value_tile;
        if (!found || area > best_area || (area == best_area && wider)) {
          best = tiles;
          found = true;
        }
      }
    }
    if (found) {
      out.ok = true;
      out.plan.tiles = best;
      out.plan.smem_bytes = NeededBytes(shape, best);
      out.plan.needs_opt_in = out.plan.smem_bytes > kDefaultSmemPerBlock;
      return out;
    }
  }
  out.error = "murmur CUDA kernels need at least " + Kb(smallest) +
              " of shared memory per block for the " +
              (shape.backward ? "backward" : "forward") + " at DK=" + std::to_string(shape.DK) +
              ", DV=" + std::to_string(shape.DV) + " (chunk 16, tiles of 16); this GPU allows " +
              Kb(smem_per_block_optin) + ": use the CPU op";
  return out;
}

int FusedForwardValueTile(const ProblemShape& shape, size_t smem_per_block_optin,
                          int64_t batch_heads, int sm_count) {
  if (shape.backward || !shape.fused_forward || shape.gate == GateKind::kPerDim ||
      !UsesTensorCores(shape) || shape.DK > kCudaMaxHeadDim || shape.DV > kCudaMaxHeadDim) {
    return 0;
  }
  for (int vt : {64, 32, 16}) {
    if (vt > shape.DV) continue;
    const TileShape t{kCudaMaxChunk, static_cast<int>(shape.DK), vt,
                      GateWidth(shape.gate, static_cast<int>(shape.DK)), true, true};
    if (LayoutOf(ChunkKernel::kFusedForward, t).Bytes() > smem_per_block_optin) continue;
    auto blocks = [&](int width) { return batch_heads * ((shape.DV + width - 1) / width); };
    while (batch_heads > 0 && vt > 16 && blocks(vt / 2) <= sm_count) vt /= 2;
    return vt;
  }
  return 0;
}

}  // namespace murmur::kernels
