// Column- and row-parallel linear layers (no bias, as in Llama). Each holds its shard of the full
// weight [out, in], created uninitialized: the owner fills it from the full tensor with take_shard
// (shard.h), so the layout never changes the initial values. With no communicator (nullptr) or one
// rank, both are a plain y = x · weightᵀ over the full weight.
//   Column: weight rows [r·out/tp, (r+1)·out/tp): input replicated, output features split.
//   Row:    weight columns [r·in/tp, (r+1)·in/tp): input features split, partial outputs summed
//           (under sequence parallelism summed and scattered along the sequence).
//
// LoRA (Hu et al. 2021): add_lora(rank, scale) gives a layer y += scale · (x Aᵀ) Bᵀ, with A [rank, in]
// and B [out, rank] registered as the submodules' parameters lora_A.weight and lora_B.weight (PEFT's
// names), created uninitialized like the weight. Each factor is split where it meets the split
// dimension: column: A whole (its gradient, a partial sum on each rank, is summed over tp by
// copy_to_tp), B by rows as the weight; row: A by columns as the weight (its partial products summed
// over tp as the weight's are), B whole (under sequence parallelism each rank sees its positions
// only, so its gradient is summed over tp the same way). set_lora_enabled(false) runs the layer
// without its adapters (the frozen base, DPO's reference).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "nf/dist/communicator.h"
#include "nf/parallel/tp/shard.h"

namespace nf::parallel::tp {

// One LoRA factor: a `weight` [out, in] and nothing else, created uninitialized.
class LoraFactorImpl : public torch::nn::Module {
 public:
  LoraFactorImpl(int64_t in_features, int64_t out_features);
  torch::Tensor weight;
};
TORCH_MODULE(LoraFactor);

// A linear layer's adapter pair: A [rank, in] and B [out, rank] of its (shard's) weight [out, in],
// registered on the layer as lora_A and lora_B; none until add().
struct LoraPair {
  void add(torch::nn::Module& owner, const torch::Tensor& weight, int64_t rank, double factor_scale);
  bool active() const { return a && enabled; }
  LoraFactor a{nullptr}, b{nullptr};
  double scale = 0;
  bool enabled = true;
};

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
  void add_lora(int64_t rank, double scale) { lora_.add(*this, weight, rank, scale); }
  void set_lora_enabled(bool enabled) { lora_.enabled = enabled; }
  torch::Tensor weight;  // [out/tp, in]

 private:
  dist::Communicator* tp_;
  ShardSpec spec_;
  LoraPair lora_;  // weights [rank, in], [out/tp, rank]
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
  void add_lora(int64_t rank, double scale) { lora_.add(*this, weight, rank, scale); }
  void set_lora_enabled(bool enabled) { lora_.enabled = enabled; }
  torch::Tensor weight;  // [out, in/tp]

 private:
  // The sum over tp of this rank's partial products (under sequence parallelism: its positions).
  torch::Tensor reduce(const torch::Tensor& partial) const;

  dist::Communicator* tp_;
  bool sequence_parallel_;
  ShardSpec spec_;
  LoraPair lora_;  // weights [rank, in/tp], [out, rank]
};
TORCH_MODULE(RowParallelLinear);

}  // namespace nf::parallel::tp
