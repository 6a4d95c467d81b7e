// ParameterGather (zero3.h): ZeRO-3's per-unit all-gather, prefetch and free.
#include "nf/parallel/dp/zero3.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"

namespace nf::parallel::dp {

ParameterGather::ParameterGather(FlatParameters& flat, const ShardedAdamW& optimizer, dist::Communicator& dp,
                                 std::set<std::string> pinned_units)
    : flat_(flat), optimizer_(optimizer), dp_(dp) {
  const FlatLayout& layout = flat_.layout();
  NF_CHECK(flat_.options().dtype() == caffe2::TypeMeta::Make<float>(), UsageError,
           "ZeRO-3 gathers parameters from the fp32 master shard: the parameters must be fp32");
  const size_t buckets = layout.buckets().size();
  for (size_t b = 0; b < buckets; ++b) {
    const std::string& unit = layout.buckets()[b].unit;
    NF_CHECK(!unit.empty(), UsageError, "ZeRO-3 needs a flat layout cut into units (FlatLayout's units)");
    buckets_by_unit_[unit] = b;
    pinned_.push_back(pinned_units.count(unit) > 0);
  }
  state_.assign(buckets, State::kGathered);
  works_.resize(buckets);
  pending_grads_.assign(buckets, 0);
  const auto& parameters = flat_.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const ParamSlot& slot = layout.slots()[i];
    if (slot.numel == 0) continue;
    const auto bucket = static_cast<size_t>(slot.bucket);
    ready_hooks_.add(parameters[i].second, parameters[i].first, [this, bucket] { on_grad_ready(bucket); });
  }
}

ParameterGather::~ParameterGather() {
  for (auto& work : works_) {
    if (work) work->wait();
  }
}

size_t ParameterGather::bucket_of(const std::string& unit) const {
  const auto found = buckets_by_unit_.find(unit);
  NF_CHECK(found != buckets_by_unit_.end(), UsageError, "ZeRO-3: this stage holds no unit '", unit, "'");
  return found->second;
}

std::unique_ptr<dist::Work> ParameterGather::start_gather(size_t bucket) {
  at::Tensor full = flat_.bucket_params(bucket);
  return dp_.all_gather(optimizer_.master_chunk(bucket), full);
}

void ParameterGather::gather(size_t bucket, bool wait) {
  if (state_[bucket] == State::kFreed) {
    flat_.allocate_bucket(bucket);
    works_[bucket] = start_gather(bucket);
    state_[bucket] = State::kGathering;
  }
  if (wait && state_[bucket] == State::kGathering) {
    works_[bucket]->wait();
    works_[bucket].reset();
    state_[bucket] = State::kGathered;
  }
}

void ParameterGather::free(size_t bucket) {
  if (pinned_[bucket] || state_[bucket] == State::kFreed) return;
  gather(bucket, /*wait=*/true);  // never free memory a collective is writing
  flat_.free_bucket(bucket);
  state_[bucket] = State::kFreed;
}

void ParameterGather::before_forward(const std::string& unit) {
  const size_t bucket = bucket_of(unit);
  gather(bucket, /*wait=*/true);
  // Buckets are in reverse registration order: forward runs them from the last bucket down.
  if (bucket > 0) gather(bucket - 1, /*wait=*/false);
}

void ParameterGather::after_forward(const std::string& unit, const at::Tensor& output) {
  const size_t bucket = bucket_of(unit);
  if (at::GradMode::is_enabled() && output.requires_grad()) {
    output.register_hook([this, bucket](const at::Tensor& /*grad*/) { before_backward(bucket); });
  }
  free(bucket);
}

void ParameterGather::before_backward(size_t bucket) {
  gather(bucket, /*wait=*/true);
  pending_grads_[bucket] = static_cast<int64_t>(flat_.layout().buckets()[bucket].slots.size());
  if (bucket + 1 < state_.size()) gather(bucket + 1, /*wait=*/false);
}

void ParameterGather::on_grad_ready(size_t bucket) {
  if (pending_grads_[bucket] > 0 && --pending_grads_[bucket] == 0) free(bucket);
}

void ParameterGather::gather_all() {
  for (size_t b = 0; b < state_.size(); ++b) gather(b, /*wait=*/false);
  for (size_t b = 0; b < state_.size(); ++b) gather(b, /*wait=*/true);
}

void ParameterGather::release_all() {
  for (size_t b = 0; b < state_.size(); ++b) free(b);
  pending_grads_.assign(state_.size(), 0);
}

void ParameterGather::refresh_pinned() {
  for (size_t b = 0; b < state_.size(); ++b) {
    if (pinned_[b]) start_gather(b)->wait();
  }
}

}  // namespace nf::parallel::dp
