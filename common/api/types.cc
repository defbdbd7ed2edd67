#include "common/api/types.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/checksum.h"

namespace murmur::api {

bool IsKnownOptimizer(std::string_view name) {
  return name == "sgd" || name == "momentum" || name == "adam" || name == "adamw";
}

std::string_view KnownOptimizers() { return "sgd, momentum, adam, adamw"; }

uint64_t ModelSpecHash(const ModelSpec& spec) {
  // One line per tensor: "name|d0,d1,...\n"; names cannot hold '\n' in the
  // codec, and the count prefix keeps "" apart from a spec with no tensors.
  std::string text = fmt::format("murmur.model_spec.v1|{}\n", spec.size());
  for (const TensorSpec& t : spec) {
    text += t.name;
    text += '|';
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) text += ',';
      text += std::to_string(t.shape[i]);
    }
    text += '\n';
  }
  const uint64_t h = Xxh3(text);
  return h == 0 ? 1 : h;
}

std::string ModelSpecString(const ModelSpec& spec) {
  std::string s = fmt::format("{} tensor{}", spec.size(), spec.size() == 1 ? "" : "s");
  for (size_t i = 0; i < spec.size(); ++i) {
    s += i == 0 ? ": " : ", ";
    s += spec[i].name + " " + ShapeString(spec[i].shape);
  }
  return s;
}

Status CheckSameModelSpec(const ModelSpec& job, const ModelSpec& mine) {
  std::string diff;
  const size_t n = std::min(job.size(), mine.size());
  for (size_t i = 0; i < n && diff.empty(); ++i) {
    if (job[i].name != mine[i].name) {
      diff = fmt::format("tensor {} is '{}' in the job's model but '{}' in this client's", i,
                         job[i].name, mine[i].name);
    } else if (job[i].shape != mine[i].shape) {
      diff = fmt::format("tensor '{}' is {} in the job's model but {} in this client's",
                         job[i].name, ShapeString(job[i].shape), ShapeString(mine[i].shape));
    }
  }
  if (diff.empty() && job.size() != mine.size()) {
    diff = fmt::format("the job's model has {} tensors, this client's {}", job.size(),
                       mine.size());
  }
  if (diff.empty()) return Status::Ok();
  return FailedPreconditionError(fmt::format(
      "this client's model cannot serve the job: {} (job: {}; this client: {})", diff,
      ModelSpecString(job), ModelSpecString(mine)));
}

Status CheckEncodingSupported(const ClientCapabilities& caps, Encoding job_encoding) {
  if (caps.encodings.empty()) return Status::Ok();
  if (std::find(caps.encodings.begin(), caps.encodings.end(), job_encoding) !=
      caps.encodings.end()) {
    return Status::Ok();
  }
  std::string have;
  for (Encoding e : caps.encodings) {
    if (!have.empty()) have += ", ";
    have += EncodingName(e);
  }
  return FailedPreconditionError(fmt::format(
      "this job's updates are {} but the client can produce only {}",
      EncodingName(job_encoding), have));
}

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
