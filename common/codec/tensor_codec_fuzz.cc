// libFuzzer target for the tensor decoder (untrusted bytes from the network).
// Properties: decoding never crashes, leaks or reads out of bounds; whatever
// decodes re-encodes to a payload that decodes to the same tensors; decoding
// against the first successful decode's spec agrees.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/codec/tensor_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace murmur;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeOptions options;
  options.max_bytes = 1 << 20;
  options.max_tensors = 64;
  Result<TensorList> decoded = DecodeTensors(bytes, options);
  if (!decoded.ok()) {
    if (decoded.status().message().empty()) std::abort();  // every error says why
    return 0;
  }
  // Round trip: fp32 re-encoding is exact.
  Result<std::string> again = EncodeTensors(*decoded);
  if (!again.ok()) std::abort();
  ModelSpec spec = SpecOf(*decoded);
  options.expected = &spec;
  Result<TensorList> twice = DecodeTensors(*again, options);
  if (!twice.ok()) std::abort();
  for (size_t i = 0; i < decoded->size(); ++i) {
    if ((*twice)[i].data != (*decoded)[i].data) std::abort();
  }
  return 0;
}
