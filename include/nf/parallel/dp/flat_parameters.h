// The model's parameters and gradients moved into buffers laid out by FlatLayout: each parameter's
// storage becomes a view into its bucket's parameter buffer (one per bucket, so that ZeRO-3 can
// free a bucket's: zero3.h) and its .grad a view into the flat gradient buffer, so bucketed
// collectives work on the buffers directly with no copies.
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
  FlatParameters(NamedTensors parameters, int64_t bucket_numel, int dp_size,
                 const std::vector<std::string>& units = {});
  FlatParameters(const FlatParameters&) = delete;
  FlatParameters& operator=(const FlatParameters&) = delete;

  const FlatLayout& layout() const { return layout_; }
  const NamedTensors& parameters() const { return parameters_; }
  // The parameters' dtype and device.
  at::TensorOptions options() const { return flat_grads_.options(); }
  at::Tensor& flat_grads() { return flat_grads_; }
  // Bucket b's parameters, numel() padded elements (the parameters are views of it).
  at::Tensor bucket_params(size_t bucket) const { return bucket_params_.at(bucket); }
  // `rank`'s chunk of bucket b's parameters.
  at::Tensor param_chunk(size_t bucket, int rank) const;
  at::Tensor bucket_grads(size_t bucket) const;

  // ZeRO-3: frees bucket b's parameter memory (its parameters keep their shapes, and tensors
  // autograd saved of them their views, but none may be read until allocate_bucket), and gives
  // it back, uninitialized. Storage-level, as PyTorch FSDP does, so every view sees the new memory.
  void free_bucket(size_t bucket);
  void allocate_bucket(size_t bucket);

  // Zeroes the gradient buffer in place; the .grad views stay bound. (Setting a .grad to undefined
  // would detach it from the buffer: autograd would then allocate a fresh tensor.)
  void zero_grad();
  // Throws UsageError naming the parameter whose .grad is no longer a view of the flat buffer.
  void check_grads_bound() const;

 private:
  NamedTensors parameters_;
  FlatLayout layout_;
  std::vector<at::Tensor> bucket_params_;
  at::Tensor flat_grads_;
};

}  // namespace nf::parallel::dp
