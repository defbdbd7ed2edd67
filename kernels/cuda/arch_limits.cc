#include "kernels/cuda/arch_limits.h"

#include <array>

namespace murmur::kernels {
namespace {

constexpr size_t KB = 1024;

constexpr std::array<ArchLimits, 6> kArchs = {{
    {75, "T4, RTX 20", 48 * KB, 64 * KB, 64 * KB, 65536, 255, 1024, 40},
    {80, "A100", 48 * KB, 163 * KB, 164 * KB, 65536, 255, 2048, 108},
    {86, "RTX 30, A10", 48 * KB, 99 * KB, 100 * KB, 65536, 255, 1536, 82},
    {87, "Jetson AGX Orin", 48 * KB, 163 * KB, 164 * KB, 65536, 255, 1536, 16},
    {89, "L4, RTX 40", 48 * KB, 99 * KB, 100 * KB, 65536, 255, 1536, 58},
    {90, "H100, H200", 48 * KB, 227 * KB, 228 * KB, 65536, 255, 2048, 132},
}};

}  // namespace

std::span<const ArchLimits> KnownArchs() { return kArchs; }

const ArchLimits* FindArch(int compute_capability) {
  for (const ArchLimits& a : kArchs) {
    if (a.compute_capability == compute_capability) return &a;
  }
  return nullptr;
}

}  // namespace murmur::kernels
