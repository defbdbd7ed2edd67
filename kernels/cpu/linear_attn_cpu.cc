// CPU implementation of chunked causal linear attention (plain, scalar decay
// and per-dimension GLA gates), forward and backward.
//
// Chunkwise-parallel form (KERNELS.md), per (batch, head), chunk size C:
//   inter-chunk: O  = scale * (Q * e^b) S,  S <- e^G S + (K * e^(G-b))^T V
//   intra-chunk: O += scale * ((Q K^T) (.) D) V,  D_ts = e^(b_t - b_s), s <= t
// with b the chunk-local cumulative log gate and G its total. Every exponent
// is <= 0 by construction (masked before exp). Per-dimension gates cannot
// factor the intra matrix safely, so it is built from 16-row sub-blocks with
// exponents referenced to the end of the earlier sub-block; diagonal
// sub-blocks are computed elementwise.
// Backward recomputes the per-chunk states (one D x D state per chunk), then
// runs a reverse pass carrying dS. Gate gradients use the identity
//   dlog a_t = sum_{t' >= t} (q . dq - k . dk)_{t'} + <dS_T, S_T>.
// Work is split over batch x head group (and value tiles in the forward when
// there are fewer batch-heads than threads). A worker walks the chunks of all
// heads of its group together: the heads of one time step are adjacent in
// [B,T,H,D], so each chunk's inputs and outputs move as one contiguous
// stream instead of H rows 1 KB apart, a pattern the hardware prefetchers
// miss (measured: 2x the copy bandwidth). States and accumulators are fp32
// (or fp64 for fp64 inputs), one per head of the group, and stay in cache.
#include <ATen/Parallel.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/micro_gemm.h"
#include "kernels/float16_bits.h"
#include "kernels/linear_attn_params.h"

namespace murmur::kernels {
namespace {

using cpu::Gemm;
using cpu::GemmTN;
using cpu::Transpose;

struct BF16 {
  uint16_t bits;
};

struct FP16 {
  uint16_t bits;
};

inline float ToAcc(FP16 x) { return Fp16BitsToFloat(x.bits); }
inline float ToAcc(BF16 x) { return std::bit_cast<float>(static_cast<uint32_t>(x.bits) << 16); }
inline float ToAcc(float x) { return x; }
inline double ToAcc(double x) { return x; }

template <typename in_t, typename acc_t>
inline in_t FromAcc(acc_t x) {
  if constexpr (std::is_same_v<in_t, BF16>) {
    uint32_t u = std::bit_cast<uint32_t>(static_cast<float>(x));
    if ((u & 0x7fffffffu) > 0x7f800000u) return BF16{static_cast<uint16_t>((u >> 16) | 0x40)};
    return BF16{static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
  } else if constexpr (std::is_same_v<in_t, FP16>) {
    return FP16{FloatToFp16Bits(static_cast<float>(x))};
  } else {
    return static_cast<in_t>(x);
  }
}


// One worker's scratch for a group of up to `max_heads` heads of one batch
// item: per-head input/output chunk buffers and states, plus buffers shared by
// the heads (one head computes at a time). Not thread-safe: one per worker.
template <typename in_t, typename acc_t>
class ChunkRunner {
 public:
  ChunkRunner(const LinearAttnForwardParams& p, int max_heads)
      : p_(p),
        C_(p.chunk),
        DK_(static_cast<int>(p.DK)),
        DV_(static_cast<int>(p.DV)),
        kSubBlock(std::max(1, p.chunk / 4)),
        slot_(static_cast<size_t>(C_) * std::max(DK_, DV_)),
        state_(static_cast<size_t>(DK_) * DV_) {
    for (auto* buf : {&q_all_, &k_all_, &v_all_, &do_all_, &o_all_, &dq_all_, &dk_all_, &dv_all_}) {
      buf->resize(slot_ * max_heads);
    }
    for (auto* buf : {&s_all_, &ds_all_}) buf->resize(state_ * max_heads);
    for (auto* buf : {&Qd_, &Kd_, &tmp_, &tmp2_}) buf->resize(slot_);
    for (auto* buf : {&A_, &dA_}) buf->resize(static_cast<size_t>(C_) * C_);
    for (auto* buf : {&St_, &dSt_}) buf->resize(state_);
    KT_.resize(static_cast<size_t>(std::max(DK_, DV_)) * C_);
    b_.resize(static_cast<size_t>(C_) * DK_);
    gam_.resize(DK_);
  }

  // Heads [h0, h0 + nh) of batch item bi, value columns [v0, v1).
  void Forward(int64_t bi, int64_t h0, int nh, int v0, int v1) {
    const int dvt = v1 - v0;
    for (int s = 0; s < nh; ++s) {
      SelectHead(s);
      LoadState(bi, h0 + s, v0, dvt);
    }
    for (int64_t t0 = 0; t0 < p_.T; t0 += C_) {
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      LoadGroup(p_.q, bi, h0, nh, t0, L, DK_, 0, DK_, q_all_.data());
      LoadGroup(p_.k, bi, h0, nh, t0, L, DK_, 0, DK_, k_all_.data());
      LoadGroup(p_.v, bi, h0, nh, t0, L, DV_, v0, dvt, v_all_.data());
      for (int s = 0; s < nh; ++s) {
        SelectHead(s);
        LoadGates(bi, h0 + s, t0, L);
        // Inter-chunk: O = (Q * e^b) S.
        const acc_t* qd = DecayRows(Q_, L, /*from_start=*/true, Qd_.data());
        Gemm(L, dvt, DK_, acc_t(1), qd, DK_, S_, dvt, O_, dvt, false);
        // Intra-chunk: O += ((Q K^T) (.) D) V.
        BuildAttention(L);
        Gemm(L, dvt, L, acc_t(1), A_.data(), C_, V_, dvt, O_, dvt, true);
        AdvanceState(L, dvt, S_);
      }
      StoreGroup(static_cast<in_t*>(p_.o), bi, h0, nh, t0, L, DV_, v0, dvt, o_all_.data(),
                 acc_t(p_.scale));
    }
    if (p_.final_state == nullptr) return;
    for (int s = 0; s < nh; ++s) {
      SelectHead(s);
      acc_t* out = static_cast<acc_t*>(p_.final_state) + StateOffset(bi, h0 + s);
      for (int d = 0; d < DK_; ++d) {
        std::memcpy(out + static_cast<size_t>(d) * DV_ + v0, S_ + static_cast<size_t>(d) * dvt,
                    sizeof(acc_t) * dvt);
      }
    }
  }

  void Backward(const LinearAttnBackwardParams& bp, int64_t bi, int64_t h0, int nh) {
    const int64_t n_chunks = (p_.T + C_ - 1) / C_;
    // Per head: the state at the start of every chunk.
    const size_t head_states = static_cast<size_t>(n_chunks) * state_;
    states_.resize(head_states * nh);
    // Pass 1: the chunk-start states, and the final state (left in S_).
    for (int s = 0; s < nh; ++s) {
      SelectHead(s);
      LoadState(bi, h0 + s, 0, DV_);
    }
    for (int64_t n = 0; n < n_chunks; ++n) {
      const int64_t t0 = n * C_;
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      LoadGroup(p_.k, bi, h0, nh, t0, L, DK_, 0, DK_, k_all_.data());
      LoadGroup(p_.v, bi, h0, nh, t0, L, DV_, 0, DV_, v_all_.data());
      for (int s = 0; s < nh; ++s) {
        SelectHead(s);
        std::memcpy(states_.data() + s * head_states + n * state_, S_, sizeof(acc_t) * state_);
        LoadGates(bi, h0 + s, t0, L);
        AdvanceState(L, DV_, S_);
      }
    }
    // dS starts as the incoming gradient of the final state; the gate
    // gradient's suffix sums start at <dS_T, S_T> (per key dim for GLA).
    const int n_suffix = p_.gate == GateKind::kPerDim ? DK_ : 1;
    suffix_.assign(static_cast<size_t>(n_suffix) * nh, acc_t(0));
    for (int s = 0; s < nh; ++s) {
      SelectHead(s);
      const acc_t* dht = bp.d_final_state == nullptr
                             ? nullptr
                             : static_cast<const acc_t*>(bp.d_final_state) + StateOffset(bi, h0 + s);
      if (dht == nullptr) {
        std::fill(dS_, dS_ + state_, acc_t(0));
        continue;
      }
      std::memcpy(dS_, dht, sizeof(acc_t) * state_);
      if (p_.gate == GateKind::kNone) continue;
      acc_t* suffix = suffix_.data() + static_cast<size_t>(s) * n_suffix;
      for (int d = 0; d < DK_; ++d) {
        acc_t sum = 0;
        for (int j = 0; j < DV_; ++j) sum += dht[d * DV_ + j] * S_[static_cast<size_t>(d) * DV_ + j];
        suffix[p_.gate == GateKind::kPerDim ? d : 0] += sum;
      }
    }
    const acc_t scale = acc_t(p_.scale);
    for (int64_t n = n_chunks - 1; n >= 0; --n) {
      const int64_t t0 = n * C_;
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      LoadGroup(p_.q, bi, h0, nh, t0, L, DK_, 0, DK_, q_all_.data());
      LoadGroup(p_.k, bi, h0, nh, t0, L, DK_, 0, DK_, k_all_.data());
      LoadGroup(p_.v, bi, h0, nh, t0, L, DV_, 0, DV_, v_all_.data());
      LoadGroup(bp.d_o, bi, h0, nh, t0, L, DV_, 0, DV_, do_all_.data());
      for (int s = 0; s < nh; ++s) {
        SelectHead(s);
        const acc_t* S = states_.data() + s * head_states + n * state_;
        LoadGates(bi, h0 + s, t0, L);
        // Decayed attention P = scale * A and dA = scale * (dO V^T), masked.
        BuildAttention(L);
        Transpose(L, DV_, V_, DV_, KT_.data(), C_);
        Gemm(L, L, DV_, scale, dO_, DV_, KT_.data(), C_, dA_.data(), C_, false);
        for (int t = 0; t < L; ++t) {
          for (int u = t + 1; u < L; ++u) dA_[t * C_ + u] = 0;
        }
        // dQ = scale * (dO S^T) * e^b + intra.
        Transpose(DK_, DV_, S, DV_, St_.data(), DK_);
        Gemm(L, DK_, DV_, scale, dO_, DV_, St_.data(), DK_, dQ_, DK_, false);
        DecayRowsInPlace(dQ_, L, /*from_start=*/true);
        // dK = (V dS^T) * e^(G-b) + intra.
        Transpose(DK_, DV_, dS_, DV_, dSt_.data(), DK_);
        Gemm(L, DK_, DV_, acc_t(1), V_, DV_, dSt_.data(), DK_, dK_, DK_, false);
        DecayRowsInPlace(dK_, L, /*from_start=*/false);
        IntraGradQK(L);
        // dV = (K * e^(G-b)) dS + P^T dO.
        const acc_t* kd = DecayRows(K_, L, /*from_start=*/false, Kd_.data());
        Gemm(L, DV_, DK_, acc_t(1), kd, DK_, dS_, DV_, dV_, DV_, false);
        GemmTN(L, DV_, L, scale, A_.data(), C_, dO_, DV_, dV_, DV_, true);
        // dS <- e^G dS + scale * (Q * e^b)^T dO.
        const acc_t* qd = DecayRows(Q_, L, /*from_start=*/true, Qd_.data());
        ScaleStateRows(dS_, DV_);
        GemmTN(DK_, DV_, L, scale, qd, DK_, dO_, DV_, dS_, DV_, true);
        if (p_.gate != GateKind::kNone && bp.dg != nullptr) {
          StoreGateGrad(bp, bi, h0 + s, t0, L, suffix_.data() + static_cast<size_t>(s) * n_suffix);
        }
      }
      StoreGroup(static_cast<in_t*>(bp.dq), bi, h0, nh, t0, L, DK_, 0, DK_, dq_all_.data(), acc_t(1));
      StoreGroup(static_cast<in_t*>(bp.dk), bi, h0, nh, t0, L, DK_, 0, DK_, dk_all_.data(), acc_t(1));
      StoreGroup(static_cast<in_t*>(bp.dv), bi, h0, nh, t0, L, DV_, 0, DV_, dv_all_.data(), acc_t(1));
    }
    if (bp.d_initial_state == nullptr) return;
    for (int s = 0; s < nh; ++s) {
      SelectHead(s);
      std::memcpy(static_cast<acc_t*>(bp.d_initial_state) + StateOffset(bi, h0 + s), dS_,
                  sizeof(acc_t) * state_);
    }
  }

 private:
  // Points the per-head views at slot s of the group buffers.
  void SelectHead(int s) {
    const size_t off = slot_ * s;
    Q_ = q_all_.data() + off;
    K_ = k_all_.data() + off;
    V_ = v_all_.data() + off;
    dO_ = do_all_.data() + off;
    O_ = o_all_.data() + off;
    dQ_ = dq_all_.data() + off;
    dK_ = dk_all_.data() + off;
    dV_ = dv_all_.data() + off;
    S_ = s_all_.data() + state_ * s;
    dS_ = ds_all_.data() + state_ * s;
  }

  size_t RowOffset(int64_t bi, int64_t t, int64_t hi, int64_t width) const {
    return static_cast<size_t>(((bi * p_.T + t) * p_.H + hi) * width);
  }
  size_t StateOffset(int64_t bi, int64_t hi) const {
    return static_cast<size_t>((bi * p_.H + hi) * p_.DK * p_.DV);
  }

  // Columns [c0, c0 + cols) of rows t0..t0+L-1 of heads h0..h0+nh-1 into
  // slot-major buffers (slot s at dst + s * slot_, rows of `cols`). The heads
  // of one time step are adjacent in memory, so the reads stream.
  void LoadGroup(const void* src, int64_t bi, int64_t h0, int nh, int64_t t0, int L, int width,
                 int c0, int cols, acc_t* dst) const {
    const in_t* base = static_cast<const in_t*>(src);
    for (int i = 0; i < L; ++i) {
      const in_t* row = base + RowOffset(bi, t0 + i, h0, width) + c0;
      for (int s = 0; s < nh; ++s) {
        const in_t* in = row + static_cast<size_t>(s) * width;
        acc_t* out = dst + slot_ * s + static_cast<size_t>(i) * cols;
        for (int c = 0; c < cols; ++c) out[c] = ToAcc(in[c]);
      }
    }
  }

  // The inverse of LoadGroup, times `mul`, converted to the input type.
  void StoreGroup(in_t* dst, int64_t bi, int64_t h0, int nh, int64_t t0, int L, int width, int c0,
                  int cols, const acc_t* src, acc_t mul) const {
    for (int i = 0; i < L; ++i) {
      in_t* row = dst + RowOffset(bi, t0 + i, h0, width) + c0;
      for (int s = 0; s < nh; ++s) {
        in_t* out = row + static_cast<size_t>(s) * width;
        const acc_t* in = src + slot_ * s + static_cast<size_t>(i) * cols;
        for (int c = 0; c < cols; ++c) out[c] = FromAcc<in_t, acc_t>(in[c] * mul);
      }
    }
  }

  void LoadState(int64_t bi, int64_t hi, int v0, int dvt) {
    if (p_.initial_state == nullptr) {
      std::fill(S_, S_ + static_cast<size_t>(DK_) * dvt, acc_t(0));
      return;
    }
    const acc_t* h0 = static_cast<const acc_t*>(p_.initial_state) + StateOffset(bi, hi);
    for (int d = 0; d < DK_; ++d) {
      std::memcpy(S_ + static_cast<size_t>(d) * dvt, h0 + static_cast<size_t>(d) * DV_ + v0,
                  sizeof(acc_t) * dvt);
    }
  }
  // b_ holds chunk-local inclusive cumulative log gates: [L] (scalar) or
  // [L, DK] (per dim); gam_ the chunk totals.
  void LoadGates(int64_t bi, int64_t hi, int64_t t0, int L) {
    if (p_.gate == GateKind::kNone) return;
    const acc_t* g = static_cast<const acc_t*>(p_.g);
    if (p_.gate == GateKind::kScalar) {
      acc_t run = 0;
      for (int i = 0; i < L; ++i) {
        run += g[RowOffset(bi, t0 + i, hi, 1)];
        b_[i] = run;
      }
      gam_[0] = run;
    } else {
      for (int d = 0; d < DK_; ++d) gam_[d] = 0;
      for (int i = 0; i < L; ++i) {
        const acc_t* row = g + RowOffset(bi, t0 + i, hi, DK_);
        for (int d = 0; d < DK_; ++d) {
          gam_[d] += row[d];
          b_[static_cast<size_t>(i) * DK_ + d] = gam_[d];
        }
      }
    }
  }

  // Row i of X [L, DK] times e^(b_i) (from_start) or e^(G - b_i).
  acc_t Factor(int i, int d, bool from_start) const {
    if (p_.gate == GateKind::kScalar) return std::exp(from_start ? b_[i] : gam_[0] - b_[i]);
    const acc_t bid = b_[static_cast<size_t>(i) * DK_ + d];
    return std::exp(from_start ? bid : gam_[d] - bid);
  }

  const acc_t* DecayRows(const acc_t* X, int L, bool from_start, acc_t* out) const {
    if (p_.gate == GateKind::kNone) return X;
    std::memcpy(out, X, sizeof(acc_t) * L * DK_);
    DecayRowsInPlace(out, L, from_start);
    return out;
  }

  void DecayRowsInPlace(acc_t* X, int L, bool from_start) const {
    if (p_.gate == GateKind::kNone) return;
    for (int i = 0; i < L; ++i) {
      acc_t* row = X + static_cast<size_t>(i) * DK_;
      if (p_.gate == GateKind::kScalar) {
        const acc_t f = Factor(i, 0, from_start);
        for (int d = 0; d < DK_; ++d) row[d] *= f;
      } else {
        for (int d = 0; d < DK_; ++d) row[d] *= Factor(i, d, from_start);
      }
    }
  }

  // S <- decay(G) S for a state of `cols` value columns.
  void ScaleStateRows(acc_t* S, int cols) const {
    if (p_.gate == GateKind::kNone) return;
    for (int d = 0; d < DK_; ++d) {
      const acc_t f = std::exp(p_.gate == GateKind::kScalar ? gam_[0] : gam_[d]);
      for (int j = 0; j < cols; ++j) S[static_cast<size_t>(d) * cols + j] *= f;
    }
  }

  // S <- e^G S + (K * e^(G-b))^T V for the loaded chunk.
  void AdvanceState(int L, int cols, acc_t* S) {
    const acc_t* kd = DecayRows(K_, L, /*from_start=*/false, Kd_.data());
    ScaleStateRows(S, cols);
    GemmTN(DK_, cols, L, acc_t(1), kd, DK_, V_, cols, S, cols, true);
  }

  // A_ = (Q K^T) (.) D, zero above the diagonal (unscaled).
  void BuildAttention(int L) {
    for (int t = 0; t < L; ++t) std::fill(A_.begin() + t * C_, A_.begin() + t * C_ + L, acc_t(0));
    if (p_.gate != GateKind::kPerDim) {
      Transpose(L, DK_, K_, DK_, KT_.data(), C_);
      Gemm(L, L, DK_, acc_t(1), Q_, DK_, KT_.data(), C_, A_.data(), C_, false);
      for (int t = 0; t < L; ++t) {
        acc_t* row = A_.data() + t * C_;
        if (p_.gate == GateKind::kScalar) {
          for (int s = 0; s <= t; ++s) row[s] *= std::exp(b_[t] - b_[s]);
        }
        for (int s = t + 1; s < L; ++s) row[s] = 0;
      }
      return;
    }
    // Per-dim gates: off-diagonal sub-blocks through referenced exponents.
    for (int j0 = 0; j0 < L; j0 += kSubBlock) {
      const int j1 = std::min(L, j0 + kSubBlock), lj = j1 - j0, r = j1 - 1;
      for (int s = j0; s < j1; ++s) {  // Kt^T [DK, lj]
        for (int d = 0; d < DK_; ++d) {
          KT_[static_cast<size_t>(d) * C_ + (s - j0)] =
              K_[static_cast<size_t>(s) * DK_ + d] * std::exp(Bd(r, d) - Bd(s, d));
        }
      }
      for (int i0 = j1; i0 < L; i0 += kSubBlock) {
        const int i1 = std::min(L, i0 + kSubBlock), li = i1 - i0;
        for (int t = i0; t < i1; ++t) {
          for (int d = 0; d < DK_; ++d) {
            tmp_[static_cast<size_t>(t - i0) * DK_ + d] =
                Q_[static_cast<size_t>(t) * DK_ + d] * std::exp(Bd(t, d) - Bd(r, d));
          }
        }
        Gemm(li, lj, DK_, acc_t(1), tmp_.data(), DK_, KT_.data(), C_, A_.data() + i0 * C_ + j0, C_,
             false);
      }
      for (int t = j0; t < j1; ++t) {  // diagonal sub-block, elementwise
        for (int s = j0; s <= t; ++s) {
          acc_t sum = 0;
          for (int d = 0; d < DK_; ++d) {
            sum += Q_[static_cast<size_t>(t) * DK_ + d] * K_[static_cast<size_t>(s) * DK_ + d] *
                   std::exp(Bd(t, d) - Bd(s, d));
          }
          A_[t * C_ + s] = sum;
        }
      }
    }
  }

  acc_t Bd(int i, int d) const { return b_[static_cast<size_t>(i) * DK_ + d]; }

  // dQ += dA (K (.) decay), dK += dA^T (Q (.) decay) for the loaded chunk.
  void IntraGradQK(int L) {
    if (p_.gate != GateKind::kPerDim) {
      // dP = dA (.) D (the scale is already in dA).
      if (p_.gate == GateKind::kScalar) {
        for (int t = 0; t < L; ++t) {
          for (int s = 0; s <= t; ++s) dA_[t * C_ + s] *= std::exp(b_[t] - b_[s]);
        }
      }
      Gemm(L, DK_, L, acc_t(1), dA_.data(), C_, K_, DK_, dQ_, DK_, true);
      GemmTN(L, DK_, L, acc_t(1), dA_.data(), C_, Q_, DK_, dK_, DK_, true);
      return;
    }
    for (int j0 = 0; j0 < L; j0 += kSubBlock) {
      const int j1 = std::min(L, j0 + kSubBlock), lj = j1 - j0, r = j1 - 1;
      for (int s = j0; s < j1; ++s) {  // Kt [lj, DK]
        for (int d = 0; d < DK_; ++d) {
          Kd_[static_cast<size_t>(s - j0) * DK_ + d] =
              K_[static_cast<size_t>(s) * DK_ + d] * std::exp(Bd(r, d) - Bd(s, d));
        }
      }
      for (int i0 = j1; i0 < L; i0 += kSubBlock) {
        const int i1 = std::min(L, i0 + kSubBlock), li = i1 - i0;
        // dQ rows of block i: (dA_ij Kt) (.) e^(b_t - b_r).
        Gemm(li, DK_, lj, acc_t(1), dA_.data() + i0 * C_ + j0, C_, Kd_.data(), DK_, tmp_.data(),
             DK_, false);
        for (int t = i0; t < i1; ++t) {
          for (int d = 0; d < DK_; ++d) {
            const acc_t e = std::exp(Bd(t, d) - Bd(r, d));
            dQ_[static_cast<size_t>(t) * DK_ + d] += tmp_[static_cast<size_t>(t - i0) * DK_ + d] * e;
            tmp2_[static_cast<size_t>(t - i0) * DK_ + d] = Q_[static_cast<size_t>(t) * DK_ + d] * e;
          }
        }
        // dK rows of block j: (dA_ij^T Qt) (.) e^(b_r - b_s).
        GemmTN(lj, DK_, li, acc_t(1), dA_.data() + i0 * C_ + j0, C_, tmp2_.data(), DK_,
               tmp_.data(), DK_, false);
        for (int s = j0; s < j1; ++s) {
          for (int d = 0; d < DK_; ++d) {
            dK_[static_cast<size_t>(s) * DK_ + d] +=
                tmp_[static_cast<size_t>(s - j0) * DK_ + d] * std::exp(Bd(r, d) - Bd(s, d));
          }
        }
      }
      for (int t = j0; t < j1; ++t) {  // diagonal sub-block
        for (int s = j0; s <= t; ++s) {
          const acc_t da = dA_[t * C_ + s];
          for (int d = 0; d < DK_; ++d) {
            const acc_t w = da * std::exp(Bd(t, d) - Bd(s, d));
            dQ_[static_cast<size_t>(t) * DK_ + d] += w * K_[static_cast<size_t>(s) * DK_ + d];
            dK_[static_cast<size_t>(s) * DK_ + d] += w * Q_[static_cast<size_t>(t) * DK_ + d];
          }
        }
      }
    }
  }

  void StoreGateGrad(const LinearAttnBackwardParams& bp, int64_t bi, int64_t hi, int64_t t0, int L,
                     acc_t* suffix) {
    acc_t* dg = static_cast<acc_t*>(bp.dg);
    for (int t = L - 1; t >= 0; --t) {
      const acc_t* q = Q_ + static_cast<size_t>(t) * DK_;
      const acc_t* dq = dQ_ + static_cast<size_t>(t) * DK_;
      const acc_t* k = K_ + static_cast<size_t>(t) * DK_;
      const acc_t* dk = dK_ + static_cast<size_t>(t) * DK_;
      if (p_.gate == GateKind::kScalar) {
        acc_t r = 0;
        for (int d = 0; d < DK_; ++d) r += q[d] * dq[d] - k[d] * dk[d];
        suffix[0] += r;
        dg[RowOffset(bi, t0 + t, hi, 1)] = suffix[0];
      } else {
        acc_t* out = dg + RowOffset(bi, t0 + t, hi, DK_);
        for (int d = 0; d < DK_; ++d) {
          suffix[d] += q[d] * dq[d] - k[d] * dk[d];
          out[d] = suffix[d];
        }
      }
    }
  }

  const LinearAttnForwardParams& p_;
  const int C_, DK_, DV_;
  const int kSubBlock;  // GLA sub-block rows (16 at the default chunk of 64)
  const size_t slot_;   // elements of one head's chunk buffer: C x max(DK, DV)
  const size_t state_;  // elements of one head's state: DK x DV
  // Group buffers, one slot per head; SelectHead points the views below at one.
  std::vector<acc_t> q_all_, k_all_, v_all_, do_all_, o_all_, dq_all_, dk_all_, dv_all_;
  std::vector<acc_t> s_all_, ds_all_, states_, suffix_;
  acc_t *Q_ = nullptr, *K_ = nullptr, *V_ = nullptr, *dO_ = nullptr, *O_ = nullptr;
  acc_t *dQ_ = nullptr, *dK_ = nullptr, *dV_ = nullptr, *S_ = nullptr, *dS_ = nullptr;
  // Shared by the heads of the group.
  std::vector<acc_t> Qd_, Kd_, tmp_, tmp2_, A_, dA_, St_, dSt_, KT_, b_, gam_;
};

// How the (batch, head) pairs are cut into work items: groups of `heads`
// heads (a divisor of H) of one batch item, and in the forward `tiles`
// value-column tiles when there are fewer batch-heads than threads.
struct WorkSplit {
  int heads = 1;
  int tiles = 1;
  int64_t items = 0;
};

// A worker's backward keeps every chunk-start state of each head in its
// group; groups stay within this much of it (one head always fits).
constexpr size_t kMaxGroupStateBytes = size_t{16} << 20;

// The largest head group that still keeps the threads as evenly loaded as
// any smaller one: whole groups stream each chunk contiguously, but a worker
// left idle costs more than the strided copies saved. `head_bytes` is the
// per-head scratch that grows with the group (the backward's states).
WorkSplit SplitWork(const LinearAttnForwardParams& p, bool value_tiles, size_t head_bytes) {
  const int64_t threads = std::max(1, at::get_num_threads());
  const int H = static_cast<int>(p.H);
  WorkSplit best;
  double best_balance = -1;
  for (int nh = H; nh >= 1; --nh) {
    if (H % nh != 0) continue;
    if (nh > 1 && head_bytes * nh > kMaxGroupStateBytes) continue;
    const int64_t items = p.B * (H / nh);
    const int64_t rounds = (items + threads - 1) / threads;
    const double balance = static_cast<double>(items) / static_cast<double>(rounds * threads);
    if (balance > best_balance + 1e-9) {
      best_balance = balance;
      best = {nh, 1, items};
    }
  }
  if (value_tiles && p.B * p.H > 0 && p.B * p.H < threads && p.DV >= 32) {
    best.heads = 1;
    best.tiles = static_cast<int>(
        std::min<int64_t>((threads + p.B * p.H - 1) / (p.B * p.H), p.DV / 16));
    best.items = p.B * p.H * best.tiles;
  }
  return best;
}

template <typename in_t, typename acc_t>
void Forward(const LinearAttnForwardParams& p) {
  const WorkSplit split = SplitWork(p, /*value_tiles=*/true, /*head_bytes=*/0);
  const int64_t groups = p.H / split.heads;
  const int64_t tile_width = (p.DV + split.tiles - 1) / split.tiles;
  at::parallel_for(0, split.items, 1, [&](int64_t begin, int64_t end) {
    ChunkRunner<in_t, acc_t> runner(p, split.heads);
    for (int64_t w = begin; w < end; ++w) {
      const int64_t group = w / split.tiles, tile = w % split.tiles;
      const int v0 = static_cast<int>(tile * tile_width);
      const int v1 = static_cast<int>(std::min<int64_t>(p.DV, v0 + tile_width));
      if (v0 < v1) {
        runner.Forward(group / groups, (group % groups) * split.heads, split.heads, v0, v1);
      }
    }
  });
}

template <typename in_t, typename acc_t>
void Backward(const LinearAttnBackwardParams& bp) {
  const LinearAttnForwardParams& p = bp.fwd;
  const size_t states_per_head = sizeof(acc_t) * static_cast<size_t>(
      (p.T + p.chunk - 1) / p.chunk * p.DK * p.DV);
  const WorkSplit split = SplitWork(p, /*value_tiles=*/false, states_per_head);
  const int64_t groups = bp.fwd.H / split.heads;
  at::parallel_for(0, split.items, 1, [&](int64_t begin, int64_t end) {
    ChunkRunner<in_t, acc_t> runner(bp.fwd, split.heads);
    for (int64_t w = begin; w < end; ++w) {
      runner.Backward(bp, w / groups, (w % groups) * split.heads, split.heads);
    }
  });
}

}  // namespace

void LinearAttnForwardCpu(const LinearAttnForwardParams& p) {
  switch (p.dtype) {
    case DType::kFloat32: return Forward<float, float>(p);
    case DType::kBFloat16: return Forward<BF16, float>(p);
    case DType::kFloat16: return Forward<FP16, float>(p);
    case DType::kFloat64: return Forward<double, double>(p);
  }
}

void LinearAttnBackwardCpu(const LinearAttnBackwardParams& p) {
  switch (p.fwd.dtype) {
    case DType::kFloat32: return Backward<float, float>(p);
    case DType::kBFloat16: return Backward<BF16, float>(p);
    case DType::kFloat16: return Backward<FP16, float>(p);
    case DType::kFloat64: return Backward<double, double>(p);
  }
}

}  // namespace murmur::kernels
