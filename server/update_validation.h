// CheckUpdatePayload: everything the coordinator verifies about an update's
// bytes before anything touches the model: it decodes (checksummed codec)
// against the model's exact names and shapes, under the size limit, with
// finite values only, and its L2 norm is within the bound. The result says
// the precise reason and a message when it fails.
//
// Pure function, safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/codec/tensor_codec.h"
#include "server/engine_types.h"

namespace murmur::server {

struct PayloadCheck {
  RejectReason reason = RejectReason::kNone;  // kNone: valid
  std::string message;                        // why, when invalid
  TensorList delta;                           // the decoded update, when valid
  double norm = 0;                            // ||delta||_2
};

PayloadCheck CheckUpdatePayload(std::string_view payload, const ModelSpec& spec,
                                size_t max_bytes, double max_norm);

// The codec's error kinds, as rejection reasons.
RejectReason ReasonForDecodeError(const Status& s);

// ||t||_2 in double.
double L2Norm(const TensorList& t);

}  // namespace murmur::server
