// Column- and row-parallel linear layers (no bias, as in Llama). Each holds its shard of the full
// weight [out, in], created uninitialized: the owner fills it from the full tensor with take_shard
// (shard.h), so the layout never changes the initial values. With no communicator (nullptr) or one
// rank, both are a plain y = x · weightᵀ over the full weight.
//   Column: weight rows [r·out/tp, (r+1)·out/tp): input replicated, output features split.
//   Row:    weight columns [r·in/tp, (r+1)·in/tp): input features split, partial outputs summed
//           (under sequence parallelism summed and scattered along the sequence).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "nf/dist/communicator.h"
#include "nf/parallel/tp/shard.h"

namespace nf::parallel::tp {

class ColumnParallelLinearImpl : public torch::nn::Module {
 public:
  // out_features must be divisible by the tp size (ConfigError).
  ColumnParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp);
  // input [.., in] (replicated) → [.., out/tp], this rank's output features.
  torch::Tensor forward(const torch::Tensor& input);
  // The same on an input that already passed copy_to_tp (or, under sequence parallelism,
  // gather_sequence): layers that share one input (q/k/v, gate/up) map it once, so backward reduces
  // its gradient once instead of once per layer.
  torch::Tensor forward_copied(const torch::Tensor& copied_input);
  const ShardSpec& spec() const { return spec_; }
  torch::Tensor weight;  // [out/tp, in]

 private:
  dist::Communicator* tp_;
  ShardSpec spec_;
};
TORCH_MODULE(ColumnParallelLinear);

class RowParallelLinearImpl : public torch::nn::Module {
 public:
  // in_features must be divisible by the tp size (ConfigError). With `sequence_parallel` the
  // output is reduce-scattered along the sequence instead of all-reduced.
  RowParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp,
                        bool sequence_parallel = false);
  // input [.., in/tp] (this rank's features, e.g. a ColumnParallelLinear's output) → [.., out],
  // replicated; with sequence_parallel, input [batch, seq, in/tp] → [batch, seq/tp, out], this
  // rank's positions.
  torch::Tensor forward(const torch::Tensor& input);
  const ShardSpec& spec() const { return spec_; }
  torch::Tensor weight;  // [out, in/tp]

 private:
  dist::Communicator* tp_;
  bool sequence_parallel_;
  ShardSpec spec_;
};
TORCH_MODULE(RowParallelLinear);

}  // namespace nf::parallel::tp
