// The model's parameters and gradients moved into two flat buffers laid out by FlatLayout: each
// parameter's storage becomes a view into the flat parameter buffer and its .grad a view into the
// flat gradient buffer, so bucketed collectives work on the buffers directly with no copies.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "nf/parallel/dp/flat_layout.h"

namespace nf::parallel::dp {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class FlatParameters {
 public:
  // `parameters` in registration order (model::named_parameters), all on one device with one
  // dtype, each a distinct tensor. Their current values are copied into the flat buffer and the
  // tensors are rebound to views of it (the tensor objects, and so a module holding them, stay the
  // same). Gradients start at zero. bucket_numel: see bucket_numel_for().
  FlatParameters(NamedTensors parameters, int64_t bucket_numel, int dp_size);
  FlatParameters(const FlatParameters&) = delete;
  FlatParameters& operator=(const FlatParameters&) = delete;

  const FlatLayout& layout() const { return layout_; }
  const NamedTensors& parameters() const { return parameters_; }
  at::Tensor& flat_params() { return flat_params_; }
  at::Tensor& flat_grads() { return flat_grads_; }
  at::Tensor bucket_params(size_t bucket) const;
  at::Tensor bucket_grads(size_t bucket) const;

  // Zeroes the gradient buffer in place; the .grad views stay bound. (Setting a .grad to undefined
  // would detach it from the buffer: autograd would then allocate a fresh tensor.)
  void zero_grad();
  // Throws UsageError naming the parameter whose .grad is no longer a view of the flat buffer.
  void check_grads_bound() const;

 private:
  NamedTensors parameters_;
  FlatLayout layout_;
  at::Tensor flat_params_, flat_grads_;
};

}  // namespace nf::parallel::dp
