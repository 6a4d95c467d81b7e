// Column/row-parallel linear layers built on the conjugate mappings.
#include "nf/parallel/tp/linear.h"

#include <ATen/ATen.h>

#include "nf/parallel/tp/mappings.h"

namespace nf::parallel::tp {
namespace {

bool parallel(const dist::Communicator* tp) { return tp != nullptr && tp->size() > 1; }

}  // namespace

LoraFactorImpl::LoraFactorImpl(int64_t in_features, int64_t out_features)
    : weight(register_parameter("weight", torch::empty({out_features, in_features}, torch::kFloat))) {}

ColumnParallelLinearImpl::ColumnParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp)
    : tp_(tp), spec_(split_spec(0, out_features, tp, /*pad=*/false)) {
  weight = register_parameter("weight", torch::empty(shard_shape({out_features, in_features}, spec_), torch::kFloat));
}

torch::Tensor ColumnParallelLinearImpl::forward(const torch::Tensor& input) {
  // f: the input is replicated, so its gradient is the sum of every shard's contribution.
  return forward_copied(parallel(tp_) ? copy_to_tp(input, *tp_) : input);
}

torch::Tensor ColumnParallelLinearImpl::forward_copied(const torch::Tensor& copied_input) {
  const torch::Tensor base = at::linear(copied_input, weight);
  if (!lora_A_ || !lora_enabled_) return base;
  // Each rank's A gradient covers only its B rows: copy_to_tp sums it over tp in backward.
  const torch::Tensor a = parallel(tp_) ? copy_to_tp(lora_A_->weight, *tp_) : lora_A_->weight;
  return base + lora_scale_ * at::linear(at::linear(copied_input, a), lora_B_->weight);
}

void ColumnParallelLinearImpl::add_lora(int64_t rank, double scale) {
  lora_A_ = register_module("lora_A", LoraFactor(weight.size(1), rank));
  lora_B_ = register_module("lora_B", LoraFactor(rank, weight.size(0)));
  lora_scale_ = scale;
}

RowParallelLinearImpl::RowParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp,
                                             bool sequence_parallel)
    : tp_(tp), sequence_parallel_(sequence_parallel), spec_(split_spec(1, in_features, tp, /*pad=*/false)) {
  weight = register_parameter("weight", torch::empty(shard_shape({out_features, in_features}, spec_), torch::kFloat));
}

torch::Tensor RowParallelLinearImpl::forward(const torch::Tensor& input) {
  const torch::Tensor base = reduce(at::linear(input, weight));
  if (!lora_A_ || !lora_enabled_) return base;
  // x A_rᵀ is a partial product like the weight's; B then sees whole (or this rank's) positions.
  const torch::Tensor down = reduce(at::linear(input, lora_A_->weight));
  const bool split_positions = parallel(tp_) && sequence_parallel_;
  const torch::Tensor b = split_positions ? copy_to_tp(lora_B_->weight, *tp_) : lora_B_->weight;
  return base + lora_scale_ * at::linear(down, b);
}

torch::Tensor RowParallelLinearImpl::reduce(const torch::Tensor& partial) const {
  if (!parallel(tp_)) return partial;
  // g: each shard holds a partial product; the sum over tp is the full output. Under sequence
  // parallelism each rank keeps only its positions of that sum.
  return sequence_parallel_ ? reduce_scatter_sequence(partial, *tp_) : reduce_from_tp(partial, *tp_);
}

void RowParallelLinearImpl::add_lora(int64_t rank, double scale) {
  lora_A_ = register_module("lora_A", LoraFactor(weight.size(1), rank));
  lora_B_ = register_module("lora_B", LoraFactor(rank, weight.size(0)));
  lora_scale_ = scale;
}

}  // namespace nf::parallel::tp
