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
// Work is split over batch x head (and value tiles in the forward when there
// are fewer batch-heads than threads); states and accumulators are fp32 (or
// fp64 for fp64 inputs) and stay in cache.
#include <ATen/Parallel.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/micro_gemm.h"
#include "kernels/linear_attn_params.h"

namespace murmur::kernels {
namespace {

using cpu::Gemm;
using cpu::GemmTN;
using cpu::Transpose;

struct BF16 {
  uint16_t bits;
};

inline float ToAcc(BF16 x) { return std::bit_cast<float>(static_cast<uint32_t>(x.bits) << 16); }
inline float ToAcc(float x) { return x; }
inline double ToAcc(double x) { return x; }

template <typename in_t, typename acc_t>
inline in_t FromAcc(acc_t x) {
  if constexpr (std::is_same_v<in_t, BF16>) {
    uint32_t u = std::bit_cast<uint32_t>(static_cast<float>(x));
    if ((u & 0x7fffffffu) > 0x7f800000u) return BF16{static_cast<uint16_t>((u >> 16) | 0x40)};
    return BF16{static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
  } else {
    return static_cast<in_t>(x);
  }
}


template <typename in_t, typename acc_t>
class ChunkRunner {
 public:
  explicit ChunkRunner(const LinearAttnForwardParams& p)
      : p_(p),
        C_(p.chunk),
        DK_(static_cast<int>(p.DK)),
        DV_(static_cast<int>(p.DV)),
        kSubBlock(std::max(1, p.chunk / 4)) {
    const size_t cd = static_cast<size_t>(C_) * std::max(DK_, DV_);
    for (auto* buf : {&Q_, &K_, &V_, &dO_, &Qd_, &Kd_, &O_, &dQ_, &dK_, &dV_, &tmp_, &tmp2_}) {
      buf->resize(cd);
    }
    for (auto* buf : {&A_, &dA_, &At_}) buf->resize(static_cast<size_t>(C_) * C_);
    for (auto* buf : {&S_, &St_, &dS_, &dSt_}) buf->resize(static_cast<size_t>(DK_) * DV_);
    KT_.resize(static_cast<size_t>(DK_ > DV_ ? DK_ : DV_) * C_);
    b_.resize(static_cast<size_t>(C_) * DK_);
    gam_.resize(DK_);
    r_.resize(static_cast<size_t>(C_) * DK_);
  }

  void Forward(int64_t bi, int64_t hi, int v0, int v1) {
    const int dvt = v1 - v0;
    LoadState(bi, hi, v0, dvt);
    for (int64_t t0 = 0; t0 < p_.T; t0 += C_) {
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      LoadRows(p_.q, bi, hi, t0, L, DK_, 0, DK_, Q_.data());
      LoadRows(p_.k, bi, hi, t0, L, DK_, 0, DK_, K_.data());
      LoadRows(p_.v, bi, hi, t0, L, DV_, v0, dvt, V_.data());
      LoadGates(bi, hi, t0, L);
      PrefetchRows(p_.q, bi, hi, t0 + C_, DK_);
      PrefetchRows(p_.k, bi, hi, t0 + C_, DK_);
      PrefetchRows(p_.v, bi, hi, t0 + C_, DV_);
      // Inter-chunk: O = (Q * e^b) S.
      const acc_t* qd = DecayRows(Q_.data(), L, /*from_start=*/true, Qd_.data());
      Gemm(L, dvt, DK_, acc_t(1), qd, DK_, S_.data(), dvt, O_.data(), dvt, false);
      // Intra-chunk: O += ((Q K^T) (.) D) V.
      BuildAttention(L);
      Gemm(L, dvt, L, acc_t(1), A_.data(), C_, V_.data(), dvt, O_.data(), dvt, true);
      StoreRows(static_cast<in_t*>(p_.o), bi, hi, t0, L, DV_, v0, dvt, O_.data(), acc_t(p_.scale));
      AdvanceState(L, dvt, S_.data());
    }
    if (p_.final_state != nullptr) {
      acc_t* out = static_cast<acc_t*>(p_.final_state) + StateOffset(bi, hi);
      for (int d = 0; d < DK_; ++d) {
        std::memcpy(out + static_cast<size_t>(d) * DV_ + v0, S_.data() + static_cast<size_t>(d) * dvt,
                    sizeof(acc_t) * dvt);
      }
    }
  }

  void Backward(const LinearAttnBackwardParams& bp, int64_t bi, int64_t hi) {
    const int64_t n_chunks = (p_.T + C_ - 1) / C_;
    const size_t state_elems = static_cast<size_t>(DK_) * DV_;
    states_.resize(static_cast<size_t>(n_chunks) * state_elems);
    // Pass 1: the state at the start of every chunk, and the final state.
    LoadState(bi, hi, 0, DV_);
    for (int64_t n = 0; n < n_chunks; ++n) {
      const int64_t t0 = n * C_;
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      std::memcpy(states_.data() + n * state_elems, S_.data(), sizeof(acc_t) * state_elems);
      LoadRows(p_.k, bi, hi, t0, L, DK_, 0, DK_, K_.data());
      LoadRows(p_.v, bi, hi, t0, L, DV_, 0, DV_, V_.data());
      LoadGates(bi, hi, t0, L);
      PrefetchRows(p_.k, bi, hi, t0 + C_, DK_);
      PrefetchRows(p_.v, bi, hi, t0 + C_, DV_);
      AdvanceState(L, DV_, S_.data());
    }
    // dS starts as the incoming gradient of the final state.
    const acc_t* dht = bp.d_final_state == nullptr
                           ? nullptr
                           : static_cast<const acc_t*>(bp.d_final_state) + StateOffset(bi, hi);
    if (dht != nullptr) {
      std::memcpy(dS_.data(), dht, sizeof(acc_t) * state_elems);
    } else {
      std::fill(dS_.begin(), dS_.end(), acc_t(0));
    }
    // Suffix sums for the gate gradient start at <dS_T, S_T> (per key dim).
    std::vector<acc_t> suffix(p_.gate == GateKind::kPerDim ? DK_ : 1, acc_t(0));
    if (dht != nullptr && p_.gate != GateKind::kNone) {
      for (int d = 0; d < DK_; ++d) {
        acc_t s = 0;
        for (int j = 0; j < DV_; ++j) s += dht[d * DV_ + j] * S_[static_cast<size_t>(d) * DV_ + j];
        suffix[p_.gate == GateKind::kPerDim ? d : 0] += s;
      }
    }
    const acc_t scale = acc_t(p_.scale);
    for (int64_t n = n_chunks - 1; n >= 0; --n) {
      const int64_t t0 = n * C_;
      const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
      const acc_t* S = states_.data() + n * state_elems;
      LoadRows(p_.q, bi, hi, t0, L, DK_, 0, DK_, Q_.data());
      LoadRows(p_.k, bi, hi, t0, L, DK_, 0, DK_, K_.data());
      LoadRows(p_.v, bi, hi, t0, L, DV_, 0, DV_, V_.data());
      LoadRows(bp.d_o, bi, hi, t0, L, DV_, 0, DV_, dO_.data());
      LoadGates(bi, hi, t0, L);
      if (n > 0) {
        PrefetchRows(p_.q, bi, hi, t0 - C_, DK_);
        PrefetchRows(p_.k, bi, hi, t0 - C_, DK_);
        PrefetchRows(p_.v, bi, hi, t0 - C_, DV_);
        PrefetchRows(bp.d_o, bi, hi, t0 - C_, DV_);
      }

      // Decayed attention P = scale * A and dA = scale * (dO V^T), masked.
      BuildAttention(L);
      Transpose(L, DV_, V_.data(), DV_, KT_.data(), C_);
      Gemm(L, L, DV_, scale, dO_.data(), DV_, KT_.data(), C_, dA_.data(), C_, false);
      for (int t = 0; t < L; ++t) {
        for (int s = t + 1; s < L; ++s) dA_[t * C_ + s] = 0;
      }
      // dQ = scale * (dO S^T) * e^b + intra.
      Transpose(DK_, DV_, S, DV_, St_.data(), DK_);
      Gemm(L, DK_, DV_, scale, dO_.data(), DV_, St_.data(), DK_, dQ_.data(), DK_, false);
      DecayRowsInPlace(dQ_.data(), L, /*from_start=*/true);
      // dK = (V dS^T) * e^(G-b) + intra.
      Transpose(DK_, DV_, dS_.data(), DV_, dSt_.data(), DK_);
      Gemm(L, DK_, DV_, acc_t(1), V_.data(), DV_, dSt_.data(), DK_, dK_.data(), DK_, false);
      DecayRowsInPlace(dK_.data(), L, /*from_start=*/false);
      IntraGradQK(L);
      // dV = (K * e^(G-b)) dS + P^T dO.
      const acc_t* kd = DecayRows(K_.data(), L, /*from_start=*/false, Kd_.data());
      Gemm(L, DV_, DK_, acc_t(1), kd, DK_, dS_.data(), DV_, dV_.data(), DV_, false);
      GemmTN(L, DV_, L, scale, A_.data(), C_, dO_.data(), DV_, dV_.data(), DV_, true);
      // dS <- e^G dS + scale * (Q * e^b)^T dO.
      const acc_t* qd = DecayRows(Q_.data(), L, /*from_start=*/true, Qd_.data());
      ScaleStateRows(dS_.data(), DV_);
      GemmTN(DK_, DV_, L, scale, qd, DK_, dO_.data(), DV_, dS_.data(), DV_, true);

      StoreRows(static_cast<in_t*>(bp.dq), bi, hi, t0, L, DK_, 0, DK_, dQ_.data(), acc_t(1));
      StoreRows(static_cast<in_t*>(bp.dk), bi, hi, t0, L, DK_, 0, DK_, dK_.data(), acc_t(1));
      StoreRows(static_cast<in_t*>(bp.dv), bi, hi, t0, L, DV_, 0, DV_, dV_.data(), acc_t(1));
      if (p_.gate != GateKind::kNone && bp.dg != nullptr) StoreGateGrad(bp, bi, hi, t0, L, suffix);
    }
    if (bp.d_initial_state != nullptr) {
      std::memcpy(static_cast<acc_t*>(bp.d_initial_state) + StateOffset(bi, hi), dS_.data(),
                  sizeof(acc_t) * state_elems);
    }
  }

 private:
  size_t RowOffset(int64_t bi, int64_t t, int64_t hi, int64_t width) const {
    return static_cast<size_t>(((bi * p_.T + t) * p_.H + hi) * width);
  }
  size_t StateOffset(int64_t bi, int64_t hi) const {
    return static_cast<size_t>((bi * p_.H + hi) * p_.DK * p_.DV);
  }

  void LoadRows(const void* src, int64_t bi, int64_t hi, int64_t t0, int L, int width, int c0,
                int cols, acc_t* dst) const {
    const in_t* base = static_cast<const in_t*>(src);
    for (int i = 0; i < L; ++i) {
      const in_t* row = base + RowOffset(bi, t0 + i, hi, width) + c0;
      acc_t* out = dst + static_cast<size_t>(i) * cols;
      for (int c = 0; c < cols; ++c) out[c] = ToAcc(row[c]);
    }
  }

  // Asks for the next chunk's rows of `src` while this chunk computes: rows
  // are H*width elements apart, a stride the hardware prefetcher misses.
  void PrefetchRows(const void* src, int64_t bi, int64_t hi, int64_t t0, int width) const {
    if (t0 >= p_.T) return;
    const int L = static_cast<int>(std::min<int64_t>(C_, p_.T - t0));
    const char* base = static_cast<const char*>(src);
    const size_t row_bytes = sizeof(in_t) * width;
    for (int i = 0; i < L; ++i) {
      const char* row = base + sizeof(in_t) * RowOffset(bi, t0 + i, hi, width);
      for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off, 0, 1);
    }
  }

  void StoreRows(in_t* dst, int64_t bi, int64_t hi, int64_t t0, int L, int width, int c0, int cols,
                 const acc_t* src, acc_t mul) const {
    for (int i = 0; i < L; ++i) {
      in_t* row = dst + RowOffset(bi, t0 + i, hi, width) + c0;
      const acc_t* in = src + static_cast<size_t>(i) * cols;
      for (int c = 0; c < cols; ++c) row[c] = FromAcc<in_t, acc_t>(in[c] * mul);
    }
  }

  void LoadState(int64_t bi, int64_t hi, int v0, int dvt) {
    if (p_.initial_state == nullptr) {
      std::fill(S_.begin(), S_.begin() + static_cast<size_t>(DK_) * dvt, acc_t(0));
      return;
    }
    const acc_t* h0 = static_cast<const acc_t*>(p_.initial_state) + StateOffset(bi, hi);
    for (int d = 0; d < DK_; ++d) {
      std::memcpy(S_.data() + static_cast<size_t>(d) * dvt, h0 + static_cast<size_t>(d) * DV_ + v0,
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
    const acc_t* kd = DecayRows(K_.data(), L, /*from_start=*/false, Kd_.data());
    ScaleStateRows(S, cols);
    GemmTN(DK_, cols, L, acc_t(1), kd, DK_, V_.data(), cols, S, cols, true);
  }

  // A_ = (Q K^T) (.) D, zero above the diagonal (unscaled).
  void BuildAttention(int L) {
    for (int t = 0; t < L; ++t) std::fill(A_.begin() + t * C_, A_.begin() + t * C_ + L, acc_t(0));
    if (p_.gate != GateKind::kPerDim) {
      Transpose(L, DK_, K_.data(), DK_, KT_.data(), C_);
      Gemm(L, L, DK_, acc_t(1), Q_.data(), DK_, KT_.data(), C_, A_.data(), C_, false);
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
      Gemm(L, DK_, L, acc_t(1), dA_.data(), C_, K_.data(), DK_, dQ_.data(), DK_, true);
      GemmTN(L, DK_, L, acc_t(1), dA_.data(), C_, Q_.data(), DK_, dK_.data(), DK_, true);
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
                     std::vector<acc_t>& suffix) {
    acc_t* dg = static_cast<acc_t*>(bp.dg);
    for (int t = L - 1; t >= 0; --t) {
      const acc_t* q = Q_.data() + static_cast<size_t>(t) * DK_;
      const acc_t* dq = dQ_.data() + static_cast<size_t>(t) * DK_;
      const acc_t* k = K_.data() + static_cast<size_t>(t) * DK_;
      const acc_t* dk = dK_.data() + static_cast<size_t>(t) * DK_;
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
  std::vector<acc_t> Q_, K_, V_, dO_, Qd_, Kd_, O_, dQ_, dK_, dV_, tmp_, tmp2_;
  std::vector<acc_t> A_, dA_, At_, S_, St_, dS_, dSt_, KT_, b_, gam_, r_, states_;
};

// Value-column tiles for the forward pass when batch x head alone cannot
// keep every thread busy.
int ValueTiles(const LinearAttnForwardParams& p) {
  const int64_t bh = p.B * p.H;
  const int threads = at::get_num_threads();
  if (bh >= threads || p.DV < 32) return 1;
  const int64_t want = (threads + bh - 1) / bh;
  return static_cast<int>(std::min<int64_t>(want, p.DV / 16));
}

template <typename in_t, typename acc_t>
void Forward(const LinearAttnForwardParams& p) {
  const int tiles = ValueTiles(p);
  const int64_t tile_width = (p.DV + tiles - 1) / tiles;
  at::parallel_for(0, p.B * p.H * tiles, 1, [&](int64_t begin, int64_t end) {
    ChunkRunner<in_t, acc_t> runner(p);
    for (int64_t w = begin; w < end; ++w) {
      const int64_t bh = w / tiles, tile = w % tiles;
      const int v0 = static_cast<int>(tile * tile_width);
      const int v1 = static_cast<int>(std::min<int64_t>(p.DV, v0 + tile_width));
      if (v0 < v1) runner.Forward(bh / p.H, bh % p.H, v0, v1);
    }
  });
}

template <typename in_t, typename acc_t>
void Backward(const LinearAttnBackwardParams& bp) {
  at::parallel_for(0, bp.fwd.B * bp.fwd.H, 1, [&](int64_t begin, int64_t end) {
    ChunkRunner<in_t, acc_t> runner(bp.fwd);
    for (int64_t bh = begin; bh < end; ++bh) runner.Backward(bp, bh / bp.fwd.H, bh % bp.fwd.H);
  });
}

}  // namespace

void LinearAttnForwardCpu(const LinearAttnForwardParams& p) {
  switch (p.dtype) {
    case DType::kFloat32: return Forward<float, float>(p);
    case DType::kBFloat16: return Forward<BF16, float>(p);
    case DType::kFloat64: return Forward<double, double>(p);
  }
}

void LinearAttnBackwardCpu(const LinearAttnBackwardParams& p) {
  switch (p.fwd.dtype) {
    case DType::kFloat32: return Backward<float, float>(p);
    case DType::kBFloat16: return Backward<BF16, float>(p);
    case DType::kFloat64: return Backward<double, double>(p);
  }
}

}  // namespace murmur::kernels
