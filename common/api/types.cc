#include "common/api/types.h"

namespace murmur::api {

std::string_view RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kNone: return "none";
    case RejectReason::kUnknownClient: return "unknown_client";
    case RejectReason::kBadToken: return "bad_token";
    case RejectReason::kTooStale: return "too_stale";
    case RejectReason::kMalformed: return "malformed";
    case RejectReason::kShapeMismatch: return "shape_mismatch";
    case RejectReason::kNonFinite: return "non_finite";
    case RejectReason::kNormTooLarge: return "norm_too_large";
    case RejectReason::kLocalStepsOutOfRange: return "local_steps_out_of_range";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kFinished: return "finished";
    case RejectReason::kDuplicate: return "duplicate";
    case RejectReason::kInternal: return "internal";
    case RejectReason::kBusy: return "busy";
  }
  return "unknown";
}

}  // namespace murmur::api
