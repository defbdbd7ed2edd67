#include "server/update_validation.h"

#include <fmt/format.h>

#include <cmath>

namespace murmur::server {

double L2Norm(const TensorList& tensors) {
  double sum = 0;
  for (const Tensor& t : tensors) {
    for (float v : t.data) sum += static_cast<double>(v) * v;
  }
  return std::sqrt(sum);
}

RejectReason ReasonForDecodeError(const Status& s) {
  switch (s.code()) {
    case StatusCode::kFailedPrecondition: return RejectReason::kShapeMismatch;
    case StatusCode::kOutOfRange: return RejectReason::kNonFinite;
    case StatusCode::kResourceExhausted: return RejectReason::kTooLarge;
    default: return RejectReason::kMalformed;
  }
}

PayloadCheck CheckUpdatePayload(std::string_view payload, const ModelSpec& spec,
                                size_t max_bytes, double max_norm) {
  PayloadCheck out;
  DecodeOptions opts;
  opts.max_bytes = max_bytes;
  opts.expected = &spec;
  Result<TensorList> delta = DecodeTensors(payload, opts);
  if (!delta.ok()) {
    out.reason = ReasonForDecodeError(delta.status());
    out.message = delta.status().message();
    return out;
  }
  out.norm = L2Norm(*delta);
  if (!(out.norm <= max_norm)) {
    out.reason = RejectReason::kNormTooLarge;
    out.message = fmt::format("update norm {:.4g} exceeds the bound {:.4g}", out.norm, max_norm);
    return out;
  }
  out.delta = std::move(*delta);
  return out;
}

}  // namespace murmur::server
