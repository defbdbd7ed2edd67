// murmur-bench-codec: encode/decode throughput of the tensor codec per
// encoding on a model of --params parameters (default 10M), against memcpy
// of the same fp32 bytes measured in the same run.
//
// Throughput is fp32 model bytes (4 x params) per second, so encodings are
// comparable; steady state (buffers reused, as the coordinator does).
// Prints a table; --json PATH writes memcpy_gbps, <enc>_encode_gbps,
// <enc>_decode_gbps and <enc>_decode_vs_memcpy.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/codec/tensor_codec.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(int reps, F&& f) {
  f();  // warm-up (page faults, caches)
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace murmur;
  CLI::App app{"murmur-bench-codec: tensor codec throughput vs memcpy"};
  std::string json_path;
  int64_t params = 10'000'000;
  int reps = 15;
  app.add_option("--json", json_path, "Write the JSON summary here");
  app.add_option("--params", params, "Model size in parameters")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "Timed repetitions per measurement")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  // A transformer-like mix: ten big matrices plus small vectors.
  ModelSpec spec;
  const int64_t big = params / 10;
  int64_t used = 0;
  for (int i = 0; i < 10; ++i) {
    int64_t rows = 1000, cols = std::max<int64_t>(1, (big - 1000) / rows);
    spec.push_back({"layer" + std::to_string(i) + ".weight", {rows, cols}});
    spec.push_back({"layer" + std::to_string(i) + ".bias", {1000}});
    used += rows * cols + 1000;
  }
  if (params > used) spec.push_back({"rest", {params - used}});
  Rng rng(1);
  TensorList model = RandomNormal(spec, rng, 0.02);
  const double fp32_bytes = 4.0 * static_cast<double>(TotalElements(model));

  std::vector<float> src(TotalElements(model)), dst(src.size());
  std::memcpy(src.data(), model[0].data.data(), model[0].data.size() * 4);
  const double memcpy_s = MedianSeconds(reps, [&] {
    std::memcpy(dst.data(), src.data(), src.size() * 4);
    asm volatile("" ::: "memory");
  });
  const double memcpy_gbps = fp32_bytes / memcpy_s / 1e9;

  nlohmann::json out;
  out["params"] = TotalElements(model);
  out["fp32_bytes"] = fp32_bytes;
  out["memcpy_gbps"] = memcpy_gbps;
  std::printf("model: %lld params (%.1f MB fp32), median of %d runs\n",
              static_cast<long long>(TotalElements(model)), fp32_bytes / 1e6, reps);
  std::printf("%-6s %10s %12s %12s %10s\n", "enc", "wire MB", "encode GB/s", "decode GB/s",
              "dec/memcpy");
  std::printf("%-6s %10.1f %12s %12.2f %10s\n", "memcpy", fp32_bytes / 1e6, "-", memcpy_gbps, "1.00");
  const ModelSpec model_spec = SpecOf(model);
  for (Encoding e : {Encoding::kFp32, Encoding::kFp16, Encoding::kBf16, Encoding::kInt8}) {
    std::string bytes;
    EncodeOptions eo{.encoding = e};
    Status status;
    const double enc_s = MedianSeconds(reps, [&] { status = EncodeTensorsInto(model, eo, &bytes); });
    if (!status.ok()) {
      std::fprintf(stderr, "encode %s failed: %s\n", EncodingName(e).data(), status.ToString().c_str());
      return 1;
    }
    TensorList decoded;
    DecodeOptions dopt{.expected = &model_spec};
    const double dec_s = MedianSeconds(reps, [&] { status = DecodeTensorsInto(bytes, dopt, &decoded); });
    if (!status.ok()) {
      std::fprintf(stderr, "decode %s failed: %s\n", EncodingName(e).data(), status.ToString().c_str());
      return 1;
    }
    const std::string name(EncodingName(e));
    const double enc_gbps = fp32_bytes / enc_s / 1e9, dec_gbps = fp32_bytes / dec_s / 1e9;
    out[name + "_encode_gbps"] = enc_gbps;
    out[name + "_decode_gbps"] = dec_gbps;
    out[name + "_decode_vs_memcpy"] = dec_gbps / memcpy_gbps;
    out[name + "_encode_vs_memcpy"] = enc_gbps / memcpy_gbps;
    out[name + "_wire_bytes"] = bytes.size();
    std::printf("%-6s %10.1f %12.2f %12.2f %10.2f\n", name.c_str(), bytes.size() / 1e6, enc_gbps,
                dec_gbps, dec_gbps / memcpy_gbps);
  }
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
      return 1;
    }
    f << out.dump(2) << "\n";
  }
  return 0;
}
