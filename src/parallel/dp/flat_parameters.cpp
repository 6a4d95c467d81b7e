// FlatParameters (flat_parameters.h): rebinding parameters and gradients to flat-buffer views.
#include "nf/parallel/dp/flat_parameters.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <set>

#include "nf/core/error.h"

namespace nf::parallel::dp {
namespace {

std::vector<std::pair<std::string, std::vector<int64_t>>> shapes_of(const NamedTensors& parameters) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& [name, tensor] : parameters) shapes.emplace_back(name, tensor.sizes().vec());
  return shapes;
}

}  // namespace

FlatParameters::FlatParameters(NamedTensors parameters, int64_t bucket_numel, int dp_size)
    : parameters_(std::move(parameters)), layout_(shapes_of(parameters_), bucket_numel, dp_size) {
  const at::Tensor& first = parameters_.front().second;
  std::set<const void*> seen;
  for (const auto& [name, tensor] : parameters_) {
    // A tensor listed twice (tied weights under two names) would be rebound twice and untied.
    NF_CHECK(seen.insert(tensor.unsafeGetTensorImpl()).second, UsageError, "flat parameters: '", name,
             "' is a tensor already listed under another name; list tied parameters once");
    NF_CHECK(tensor.scalar_type() == first.scalar_type() && tensor.device() == first.device(), UsageError,
             "flat parameters: '", name, "' is ", tensor.scalar_type(), " on ", tensor.device(), ", the first is ",
             first.scalar_type(), " on ", first.device(), "; one flat buffer holds one dtype on one device");
  }
  at::NoGradGuard no_grad;
  // Zeros, so the padding at each bucket's end reduces to zero and never moves.
  flat_params_ = at::zeros({layout_.total_numel()}, first.options().requires_grad(false));
  flat_grads_ = at::zeros({layout_.total_numel()}, first.options().requires_grad(false));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor& tensor = parameters_[i].second;
    const ParamSlot& slot = layout_.slots()[i];
    if (slot.numel == 0) continue;
    at::Tensor param_view = flat_params_.narrow(0, slot.offset, slot.numel).view(slot.shape);
    param_view.copy_(tensor.detach());
    tensor.set_data(param_view);
    tensor.mutable_grad() = flat_grads_.narrow(0, slot.offset, slot.numel).view(slot.shape);
  }
}

at::Tensor FlatParameters::bucket_params(size_t bucket) const {
  const Bucket& b = layout_.buckets().at(bucket);
  return flat_params_.narrow(0, b.offset, b.numel);
}

at::Tensor FlatParameters::bucket_grads(size_t bucket) const {
  const Bucket& b = layout_.buckets().at(bucket);
  return flat_grads_.narrow(0, b.offset, b.numel);
}

void FlatParameters::zero_grad() {
  at::NoGradGuard no_grad;
  flat_grads_.zero_();
}

void FlatParameters::check_grads_bound() const {
  const auto* base = static_cast<const char*>(flat_grads_.data_ptr());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const ParamSlot& slot = layout_.slots()[i];
    if (slot.numel == 0) continue;
    const at::Tensor& grad = parameters_[i].second.grad();
    const bool bound = grad.defined() && grad.data_ptr() == base + slot.offset * flat_grads_.element_size();
    NF_CHECK(bound, UsageError, "the gradient of '", parameters_[i].first,
             "' is no longer a view of the flat gradient buffer; zero gradients with FlatParameters::zero_grad(), "
             "never by resetting .grad");
  }
}

}  // namespace nf::parallel::dp
