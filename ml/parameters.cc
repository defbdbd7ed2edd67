#include "ml/parameters.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <cstring>

#include "common/codec/tensor_file.h"

namespace murmur::model {

TensorList GetParameters(const Model& model) {
  torch::NoGradGuard no_grad;
  TensorList out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const torch::Tensor host =
        item.value().detach().to(torch::kCPU, torch::kFloat).contiguous();
    Tensor t;
    t.name = item.key();
    t.shape.assign(host.sizes().begin(), host.sizes().end());
    t.data.resize(static_cast<size_t>(host.numel()));
    std::memcpy(t.data.data(), host.data_ptr<float>(), t.data.size() * sizeof(float));
    out.push_back(std::move(t));
  }
  return out;
}

ModelSpec SpecOf(const Model& model) {
  ModelSpec spec;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const auto sizes = item.value().sizes();
    spec.push_back(TensorSpec{item.key(), Shape(sizes.begin(), sizes.end())});
  }
  return spec;
}

Status SetParameters(Model& model, const TensorList& params) {
  if (Status st = CheckMatchesSpec(params, SpecOf(model)); !st.ok()) {
    return FailedPreconditionError("the parameters do not fit this model: " + st.message());
  }
  for (const Tensor& t : params) {
    for (float v : t.data) {
      if (!std::isfinite(v)) {
        return OutOfRangeError(fmt::format(
            "the parameters do not fit this model: tensor '{}' holds NaN or Inf", t.name));
      }
    }
  }
  torch::NoGradGuard no_grad;
  try {
    size_t i = 0;
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      const Tensor& t = params[i++];
      // from_blob does not copy; copy_ does (and moves to the model's device).
      item.value().copy_(torch::from_blob(const_cast<float*>(t.data.data()),
                                          item.value().sizes(), torch::kFloat));
    }
  } catch (const c10::Error& e) {
    return InternalError(
        fmt::format("copying parameters into the model: {}", e.what_without_backtrace()));
  }
  return Status::Ok();
}

Status SaveModelParameters(const Model& model, const std::string& path) {
  return WriteTensorFile(path, GetParameters(model));
}

Status LoadModelParameters(Model& model, const std::string& path) {
  const ModelSpec spec = SpecOf(model);
  MURMUR_ASSIGN_OR_RETURN(TensorList params, ReadTensorFile(path, &spec));
  return SetParameters(model, params).WithContext(fmt::format("loading {}", path));
}

}  // namespace murmur::model
