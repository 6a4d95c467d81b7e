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

FlatParameters::FlatParameters(NamedTensors parameters, int64_t bucket_numel, int dp_size,
                               const std::vector<std::string>& units)
    : parameters_(std::move(parameters)), layout_(shapes_of(parameters_), bucket_numel, dp_size, units) {
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
  for (const Bucket& bucket : layout_.buckets()) {
    bucket_params_.push_back(at::zeros({bucket.numel}, first.options().requires_grad(false)));
  }
  flat_grads_ = at::zeros({layout_.total_numel()}, first.options().requires_grad(false));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor& tensor = parameters_[i].second;
    const ParamSlot& slot = layout_.slots()[i];
    if (slot.numel == 0) continue;
    const Bucket& bucket = layout_.buckets()[slot.bucket];
    at::Tensor param_view =
        bucket_params_[slot.bucket].narrow(0, slot.offset - bucket.offset, slot.numel).view(slot.shape);
    param_view.copy_(tensor.detach());
    tensor.set_data(param_view);
    tensor.mutable_grad() = flat_grads_.narrow(0, slot.offset, slot.numel).view(slot.shape);
  }
}

at::Tensor FlatParameters::param_chunk(size_t bucket, int rank) const {
  const int64_t chunk = layout_.buckets().at(bucket).chunk_numel(layout_.dp_size());
  return bucket_params_.at(bucket).narrow(0, rank * chunk, chunk);
}

void FlatParameters::free_bucket(size_t bucket) {
  c10::StorageImpl* storage = bucket_params_.at(bucket).storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(c10::DataPtr(nullptr, storage->device()));
  storage->set_nbytes(0);
}

void FlatParameters::allocate_bucket(size_t bucket) {
  const at::Tensor& buffer = bucket_params_.at(bucket);
  c10::StorageImpl* storage = buffer.storage().unsafeGetStorageImpl();
  const size_t bytes = static_cast<size_t>(buffer.numel()) * buffer.element_size();
  storage->set_data_ptr_noswap(storage->allocator()->allocate(bytes));
  storage->set_nbytes(bytes);
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
