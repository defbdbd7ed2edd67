// Model parameters as the unit that travels: a Model <-> a TensorList.
//
// The list holds every trainable parameter, in named_parameters() order,
// with its dotted name ("blocks.0.attn.q_proj.weight"), its shape and fp32
// values (copied to the host whatever the model's device). Buffers (e.g.
// the fixed decay rates) do not travel: they follow from the ModelConfig.
//
// SetParameters is all-or-nothing: every name, shape and value is checked
// before anything is copied, so a rejected list leaves the model untouched.
//
// Save/LoadModelParameters put the same list in a named-tensor file
// (tensor_file.h; format and Python loader in ml/README.md).
//
// Threading: these touch the model's tensors; use them from the thread that
// owns the model, never during its forward/backward.
#pragma once

#include <string>

#include "common/codec/tensor.h"
#include "common/status.h"
#include "ml/model.h"

namespace murmur::model {

TensorList GetParameters(const Model& model);

// OK, or FailedPrecondition saying the first mismatch against the model's
// spec (missing/extra/renamed tensor, wrong shape), or OutOfRange for a
// NaN/Inf value; the model is unchanged on error.
Status SetParameters(Model& model, const TensorList& params);

// Names and shapes, in order.
ModelSpec SpecOf(const Model& model);

// Atomically writes the model's parameters (fp32) to `path`.
Status SaveModelParameters(const Model& model, const std::string& path);

// Reads `path` (it must hold exactly this model's spec) and sets the model's
// parameters from it; errors name the file, and the model is unchanged.
Status LoadModelParameters(Model& model, const std::string& path);

}  // namespace murmur::model
