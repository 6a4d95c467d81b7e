// GradSync (grad_sync.h): per-bucket all_reduce / reduce_scatter, optionally started from
// gradient-accumulator hooks during backward.
#include "nf/parallel/dp/grad_sync.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"

namespace nf::parallel::dp {

GradSync::GradSync(FlatParameters& flat, dist::Communicator& dp, int zero_stage, bool overlap)
    : flat_(flat), dp_(dp), zero_stage_(zero_stage), overlap_(overlap) {
  NF_CHECK(zero_stage >= 0 && zero_stage <= 3, ConfigError, "parallel.zero must be 0, 1, 2 or 3, got ", zero_stage);
  NF_CHECK(dp.size() == flat.layout().dp_size(), UsageError,
           "grad sync: the flat layout was built for dp=", flat.layout().dp_size(), " but the '", dp.axis(),
           "' communicator has ", dp.size(), " ranks");
  if (zero_stage_ >= 2) shard_grads_ = at::zeros({flat.layout().shard_numel()}, flat.flat_grads().options());
  if (!overlap_) return;
  const auto& parameters = flat_.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (flat_.layout().slots()[i].numel == 0) continue;
    ready_hooks_.add(parameters[i].second, parameters[i].first, [this, i] { on_grad_ready(i); });
  }
}

void GradSync::arm() {
  if (!overlap_) return;
  NF_CHECK(works_.empty() && next_bucket_ == 0, UsageError, "grad sync: arm() called twice without finish()");
  pending_.clear();
  for (const Bucket& bucket : flat_.layout().buckets()) pending_.push_back(static_cast<int64_t>(bucket.slots.size()));
  armed_ = true;
  started_in_backward_ = 0;
}

void GradSync::on_grad_ready(size_t slot) {
  if (!armed_) return;  // an earlier micro-batch: accumulate locally only
  const auto& buckets = flat_.layout().buckets();
  --pending_[flat_.layout().slots()[slot].bucket];
  // In order only: a later bucket that completes first waits, so all ranks launch identically.
  while (next_bucket_ < buckets.size() && pending_[next_bucket_] == 0) {
    launch(next_bucket_++);
    ++started_in_backward_;
  }
}

void GradSync::launch(size_t bucket) {
  at::Tensor grads = flat_.bucket_grads(bucket);
  if (zero_stage_ >= 2) {
    const Bucket& b = flat_.layout().buckets()[bucket];
    at::Tensor chunk = shard_grads_.narrow(0, b.shard_offset, b.chunk_numel(dp_.size()));
    works_.push_back(dp_.reduce_scatter(grads, chunk, dist::ReduceOp::kSum));
  } else {
    works_.push_back(dp_.all_reduce(grads, dist::ReduceOp::kSum));
  }
}

void GradSync::finish() {
  armed_ = false;
  while (next_bucket_ < flat_.layout().buckets().size()) launch(next_bucket_++);
  for (auto& work : works_) work->wait();
  works_.clear();
  next_bucket_ = 0;
}

at::Tensor GradSync::shard_grads() const {
  if (zero_stage_ >= 2) return shard_grads_;
  const FlatLayout& layout = flat_.layout();
  std::vector<at::Tensor> chunks;
  for (size_t b = 0; b < layout.buckets().size(); ++b) {
    chunks.push_back(flat_.flat_grads().narrow(0, layout.chunk_offset(b, dp_.rank()),
                                               layout.buckets()[b].chunk_numel(layout.dp_size())));
  }
  return at::cat(chunks);
}

}  // namespace nf::parallel::dp
