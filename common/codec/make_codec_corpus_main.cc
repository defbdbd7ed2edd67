// Writes the codec fuzzer's seed corpus: valid payloads in every encoding
// (small models, a scalar, an empty tensor, several ranks) plus a few
// near-misses. Usage: murmur-make-codec-corpus DIR
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/codec/tensor_codec.h"

int main(int argc, char** argv) {
  using namespace murmur;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  Rng rng(2026);
  const ModelSpec specs[] = {
      {{"w", {2, 3}}, {"b", {3}}},
      {{"embed.weight", {5, 4}}, {"scalar", {}}, {"empty", {0, 2}}},
      {{"t4", {2, 1, 2, 2}}},
      {},
  };
  int n = 0;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    ++n;
  };
  int model = 0;
  for (const ModelSpec& spec : specs) {
    TensorList t = RandomNormal(spec, rng, 1.0);
    for (Encoding e : {Encoding::kFp32, Encoding::kFp16, Encoding::kBf16, Encoding::kInt8}) {
      Result<std::string> bytes = EncodeTensors(t, {.encoding = e});
      if (!bytes.ok()) return 1;
      std::string name = "model" + std::to_string(model) + "_" + std::string(EncodingName(e));
      write(name, *bytes);
      if (bytes->size() > 40) {
        write(name + "_truncated", bytes->substr(0, bytes->size() / 2));
        std::string flipped = *bytes;
        flipped[flipped.size() / 2] ^= 1;
        write(name + "_flipped", flipped);
      }
    }
    ++model;
  }
  std::printf("wrote %d seed files to %s\n", n, dir.c_str());
  return 0;
}
