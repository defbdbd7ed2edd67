// murmur-bench-kernels: forward+backward time and peak memory of murmur's CPU
// linear-attention op against two ATen baselines (masked quadratic; cumulative
// sum of outer products) and the machine's square fp32 matmul rate, all in
// the same run. B=4, H=4, D=64, T in {512, 1024, 2048, 4096} (--quick: 512,
// 1024). Prints a table; --json PATH writes the summary (see README).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <malloc.h>
#include <torch/csrc/autograd/autograd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/ops/linear_attn_autograd.h"
#include "kernels/ops/registration.h"
#include "kernels/reference/reference.h"

namespace {

using at::Tensor;
using SteadyClock = std::chrono::steady_clock;

long ReadStatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  }
  return 0;
}

// Peak resident memory (MB) that `fn` adds above what was resident before it.
struct Measured {
  double ms = 0;
  double peak_mb = 0;
};

// Times `fn` (median of `reps`, after a warm-up, with freed memory reused as
// in a training loop), then measures its peak memory in one more run where
// big blocks go straight back to the OS so the high-water mark is its own.
Measured Measure(int reps, const std::function<void()>& fn) {
  // Freed blocks stay in the heap (no mmap, no trim) so timed runs reuse
  // pages instead of faulting fresh ones in, as in a steady training loop.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  fn();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto t0 = SteadyClock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  mallopt(M_TRIM_THRESHOLD, 128 << 10);
  malloc_trim(0);
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // reset the high-water mark
  const long base = ReadStatusKb("VmRSS:");
  fn();
  const double peak = (ReadStatusKb("VmHWM:") - base) / 1024.0;
  return {times[times.size() / 2], peak};
}

void FwdBwd(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op,
            const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w) {
  std::vector<Tensor> leaves = {q, k, v};
  Tensor o = op(q, k, v);
  auto grads = torch::autograd::grad({o}, leaves, {w});  // loss = <o, w>
  (void)grads;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"murmur-bench-kernels: CPU linear attention vs ATen baselines"};
  std::string json_path;
  bool quick = false;
  bool ours_only = false;
  int reps = 3;
  double cumsum_budget_gb = 8.0;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  app.add_option("--json", json_path, "Write the JSON summary here");
  app.add_flag("--quick", quick, "Only T=512 and 1024, one timed run each");
  app.add_flag("--ours-only", ours_only,
               "Time only murmur's op (for profiling; the baselines and ratios are absent)");
  app.add_option("--reps", reps, "Timed runs per case (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--cumsum-budget-gb", cumsum_budget_gb,
                 "Skip the cumsum baseline where its states would exceed this");
  app.add_option("--threads", threads, "ATen intra-op threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (quick) reps = 1;
  const int ours_reps = quick ? reps : std::max(reps, 9);
  at::set_num_threads(threads);
  murmur::kernels::EnsureRegistered();
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("murmur::chunk_linear_attn", "")
                .typed<std::tuple<Tensor, Tensor>(
                    const Tensor&, const Tensor&, const Tensor&, const c10::optional<Tensor>&,
                    const c10::optional<Tensor>&, c10::optional<double>,
                    const c10::optional<Tensor>&, bool)>();

  const int64_t B = 4, H = 4, D = 64, C = 64;
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<int64_t> Ts = quick ? std::vector<int64_t>{512, 1024}
                                  : std::vector<int64_t>{512, 1024, 2048, 4096};
  nlohmann::json results = nlohmann::json::array();
  std::printf(
      "CPU, %d threads; B=%lld H=%lld D=%lld; forward+backward, median of %d runs (ours, mm: %d)\n",
      at::get_num_threads(), (long long)B, (long long)H, (long long)D, reps, ours_reps);
  std::printf("%6s %10s %12s %10s %9s %9s %10s %10s\n", "T", "ours ms", "quadratic ms",
              "cumsum ms", "ours MB", "quad MB", "ours GF/s", "mm GF/s");
  double speedup_4096 = 0;
  for (int64_t T : Ts) {
    at::manual_seed(T);
    Tensor q = at::randn({B, T, H, D}).requires_grad_(true);
    Tensor k = (at::randn({B, T, H, D}) * 0.1).requires_grad_(true);
    Tensor v = at::randn({B, T, H, D}).requires_grad_(true);
    Tensor w = at::randn({B, T, H, D});
    auto ours_fn = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
      return std::get<0>(op.call(a, b, c, {}, {}, scale, {}, false));
    };
    auto quad_fn = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
      return murmur::kernels::reference::Quadratic(a, b, c, Tensor(), scale);
    };
    auto cum_fn = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
      return murmur::kernels::reference::CumsumOuter(a, b, c, scale);
    };
    // Our op and the matmul are cheap: more runs steady their medians, which
    // the time ratio and the GF/s ratio are computed from.
    Measured ours = Measure(ours_reps, [&] { FwdBwd(ours_fn, q, k, v, w); });
    Measured quad;
    if (!ours_only) quad = Measure(reps, [&] { FwdBwd(quad_fn, q, k, v, w); });
    // States, their gradient and the outer products: ~3 copies of B*T*H*D*D floats.
    const double cumsum_gb = 3.0 * B * T * H * D * D * 4 / 1e9;
    const bool run_cumsum = !ours_only && cumsum_gb <= cumsum_budget_gb;
    Measured cum;
    if (run_cumsum) cum = Measure(reps, [&] { FwdBwd(cum_fn, q, k, v, w); });
    // FLOPs of the chunked form, forward+backward (KERNELS.md): (14 D^2 + 14 C D) per token-head.
    const double flops = double(B * H * T) * (14.0 * D * D + 14.0 * C * D);
    const int64_t n = std::max<int64_t>(64, std::llround(std::cbrt(flops / 2.0)));
    Tensor ma = at::randn({n, n}), mb = at::randn({n, n});
    Measured mm = Measure(ours_reps, [&] { (void)at::mm(ma, mb); });
    const double ours_gflops = flops / (ours.ms * 1e6);
    const double mm_gflops = 2.0 * n * n * n / (mm.ms * 1e6);
    nlohmann::json r = {{"T", T},
                        {"ours_ms", ours.ms},
                        {"quadratic_ms", ours_only ? nlohmann::json(nullptr) : nlohmann::json(quad.ms)},
                        {"cumsum_ms", run_cumsum ? nlohmann::json(cum.ms) : nlohmann::json(nullptr)},
                        {"ours_peak_mb", ours.peak_mb},
                        {"quadratic_peak_mb", ours_only ? nlohmann::json(nullptr) : nlohmann::json(quad.peak_mb)},
                        {"cumsum_peak_mb", run_cumsum ? nlohmann::json(cum.peak_mb) : nlohmann::json(nullptr)},
                        {"ours_gflops", ours_gflops},
                        {"mm_gflops", mm_gflops},
                        {"mm_n", n}};
    if (!run_cumsum && !ours_only) {
      r["cumsum_skipped"] = "states would need " + std::to_string(cumsum_gb) + " GB";
    }
    results.push_back(r);
    if (T == 4096 && !ours_only) speedup_4096 = quad.ms / ours.ms;
    std::printf("%6lld %10.2f %12.2f %10s %9.1f %9.1f %10.1f %10.1f\n", (long long)T, ours.ms,
                quad.ms, run_cumsum ? std::to_string(cum.ms).substr(0, 8).c_str() : "skipped",
                ours.peak_mb, quad.peak_mb, ours_gflops, mm_gflops);
  }
  nlohmann::json out = {{"results", results},
                        {"threads", at::get_num_threads()},
                        {"reps", reps}, {"ours_reps", ours_reps},
                        {"B", B}, {"H", H}, {"D", D}, {"chunk", C}};
  out["speedup_vs_quadratic_T4096"] = speedup_4096 > 0 ? nlohmann::json(speedup_4096) : nullptr;
  const auto& first = results.front();
  const auto& last = results.back();
  out["time_ratio_last_vs_first"] = last["ours_ms"].get<double>() / first["ours_ms"].get<double>();
  out["memory_ratio_last_vs_first"] =
      last["ours_peak_mb"].get<double>() / std::max(1e-9, first["ours_peak_mb"].get<double>());
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
      return 1;
    }
    f << out.dump(2) << "\n";
  }
  if (speedup_4096 > 0) std::printf("speedup vs quadratic at T=4096: %.1fx\n", speedup_4096);
  return 0;
}
