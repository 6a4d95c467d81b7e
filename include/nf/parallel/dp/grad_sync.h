// Bucketed gradient synchronisation over the data-parallel axis.
//
// Semantics: gradients are SUMMED over dp, never averaged. The loss contract (model/loss.h) makes
// the global mean loss Σ sum / Σ count over all ranks and micro-batches, so each rank backwards
// its LossSum.sum / global_count (global_count all-reduced first); the sum over ranks of those
// gradients is then exactly the gradient of the global mean, whatever the token counts per rank.
// (Averaging would be right only when every rank counts the same number of tokens.)
//
//   zero 0 and 1: each bucket is all-reduced in place; after finish() every rank holds the summed
//                 gradient in every .grad.
//   zero 2 and 3: each bucket is reduce-scattered; after finish() shard_grads() holds the summed
//                 gradient of this rank's chunks only (.grad keeps the local, unreduced values).
//
// Overlap (optional): with overlap on, a hook on each parameter's gradient accumulator counts the
// gradients of the backward that follows arm(); when a bucket is complete its collective starts
// while backward continues. Buckets are launched strictly in order 0, 1, 2, … (a complete bucket
// waits for the ones before it), so every rank issues the same collectives in the same order.
// finish() launches whatever is left (parameters that got no gradient) and waits for all.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/parallel/dp/grad_ready.h"

namespace nf::parallel::dp {

class GradSync {
 public:
  // zero_stage: 0 to 3. `flat` and `dp` must outlive this object; dp.size() must equal the
  // layout's dp size.
  GradSync(FlatParameters& flat, dist::Communicator& dp, int zero_stage, bool overlap);
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Call right before the backward of the last micro-batch of a step (overlap only; a no-op
  // otherwise): earlier micro-batches only accumulate locally.
  void arm();
  // Starts every bucket not yet started and waits for all of them.
  void finish();

  int zero_stage() const { return zero_stage_; }
  // This rank's chunks of every bucket, summed over dp, in shard order (size layout().shard_numel()).
  // zero 2, 3: the reduce_scatter output itself; zero 0/1: a copy out of the flat gradient buffer.
  at::Tensor shard_grads() const;
  // Buckets whose collective started during backward in the last step (overlap diagnostics).
  int buckets_started_in_backward() const { return started_in_backward_; }

 private:
  void on_grad_ready(size_t slot);
  void launch(size_t bucket);

  FlatParameters& flat_;
  dist::Communicator& dp_;
  int zero_stage_;
  bool overlap_;
  at::Tensor shard_grads_;  // zero 2 and 3 only
  GradReadyHooks ready_hooks_;
  std::vector<int64_t> pending_;  // per bucket: gradients still to come in the armed backward
  std::vector<std::unique_ptr<dist::Work>> works_;
  size_t next_bucket_ = 0;
  bool armed_ = false;
  int started_in_backward_ = 0;
};

}  // namespace nf::parallel::dp
