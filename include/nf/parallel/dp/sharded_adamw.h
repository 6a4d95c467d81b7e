// ZeRO-1/2 AdamW: each dp rank keeps fp32 master weights and Adam moments only for its shard (its
// chunk of every bucket, flat_layout.h), steps them with the same per-element math as
// nf::optim::AdamW (optim/adamw.h: per-parameter weight decay by name, bias correction), writes the
// result into its chunk of the flat parameter buffer and all-gathers every bucket, so that all
// ranks end the step with identical full parameters.
//
// State:
//   state() / load_state()          this rank's shard as flat tensors: a resume with the same
//                                   layout (dp size, bucket size, parameters) on every rank.
//   full_state() / load_full_state() the unsharded state in nf::optim::AdamW::state()'s format
//                                   ("step", "<name>.exp_avg", "<name>.exp_avg_sq", plus
//                                   "<name>.master" when parameters are not fp32), gathered to every
//                                   rank; loadable at any dp size, and by plain AdamW.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/optim/adamw.h"
#include "nf/parallel/dp/flat_parameters.h"

namespace nf::parallel::dp {

class ShardedAdamW {
 public:
  // The master shard starts from the current flat parameters. `flat` and `dp` must outlive this.
  // `gather_after_step`: step() ends by all-gathering the updated parameters (ZeRO 1, 2); ZeRO-3
  // gathers each unit when it is used instead (zero3.h).
  ShardedAdamW(FlatParameters& flat, dist::Communicator& dp, optim::AdamWOptions options,
               bool gather_after_step = true);

  // Σ weight(name)·g² over this rank's shard (padding excluded), in fp64, shape {1}, not reduced:
  // the caller reduces it over the axes the parameters are split on (DataParallelOptimizer::
  // reduce_gradients, the trainer's one gradient norm). `weight` gives a parameter's
  // factor, e.g. 1/tp for a tensor every tp rank holds whole.
  at::Tensor grad_squares(const at::Tensor& shard_grads, const std::function<double(const std::string&)>& weight) const;
  // One update with learning rate `lr`, the shard's gradients first scaled by `grad_scale` (the
  // clip coefficient, optim::clip_coefficient; 1 = no clipping: scaled in place), then the
  // all-gather. Collective.
  void step(const at::Tensor& shard_grads, double lr, double grad_scale = 1.0);

  int64_t step_count() const { return step_; }
  // This rank's master elements of parameter `name` set from `value` (its whole new value).
  void assign_master(const std::string& name, const at::Tensor& value);
  // This rank's chunk of bucket b in the fp32 master shard.
  at::Tensor master_chunk(size_t bucket) const;

  NamedTensors state() const;
  // Throws CheckpointError when the saved shard was made by a different layout or rank.
  void load_state(const NamedTensors& state);
  NamedTensors full_state() const;  // collective
  // Takes this rank's pieces of a full state (any dp size saved it). Parameters themselves are
  // restored separately (checkpoint of the model); the fp32 master is re-read from them unless
  // the state carries "<name>.master".
  void load_full_state(const NamedTensors& state);

 private:
  // A run of adjacent shard elements with one weight decay (segments merged for fewer kernels).
  struct DecayRun {
    int64_t shard_offset, numel;
    double weight_decay;
  };
  void gather_parameters();
  void copy_master_from_parameters();

  FlatParameters& flat_;
  dist::Communicator& dp_;
  optim::AdamWOptions options_;
  bool gather_after_step_;
  std::vector<ShardSegment> segments_;
  std::vector<DecayRun> runs_;
  at::Tensor master_, exp_avg_, exp_avg_sq_;  // fp32, shard_numel each
  int64_t step_ = 0;
};

}  // namespace nf::parallel::dp
