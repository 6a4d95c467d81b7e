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

void LoraPair::add(torch::nn::Module& owner, const torch::Tensor& weight, int64_t rank, double factor_scale) {
  a = owner.register_module("lora_A", LoraFactor(weight.size(1), rank));
  b = owner.register_module("lora_B", LoraFactor(rank, weight.size(0)));
  scale = factor_scale;
}

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
  if (!lora_.active()) return base;
  // Each rank's A gradient covers only its B rows: copy_to_tp sums it over tp in backward.
  const torch::Tensor a = parallel(tp_) ? copy_to_tp(lora_.a->weight, *tp_) : lora_.a->weight;
  return base + lora_.scale * at::linear(at::linear(copied_input, a), lora_.b->weight);
}

RowParallelLinearImpl::RowParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp,
                                             bool sequence_parallel)
    : tp_(tp), sequence_parallel_(sequence_parallel), spec_(split_spec(1, in_features, tp, /*pad=*/false)) {
  weight = register_parameter("weight", torch::empty(shard_shape({out_features, in_features}, spec_), torch::kFloat));
}

torch::Tensor RowParallelLinearImpl::forward(const torch::Tensor& input) {
  const torch::Tensor base = reduce(at::linear(input, weight));
  if (!lora_.active()) return base;
  // x A_rᵀ is a partial product like the weight's; B then sees whole (or this rank's) positions.
  const torch::Tensor down = reduce(at::linear(input, lora_.a->weight));
  const bool split_positions = parallel(tp_) && sequence_parallel_;
  const torch::Tensor b = split_positions ? copy_to_tp(lora_.b->weight, *tp_) : lora_.b->weight;
  return base + lora_.scale * at::linear(down, b);
}

torch::Tensor RowParallelLinearImpl::reduce(const torch::Tensor& partial) const {
  if (!parallel(tp_)) return partial;
  // g: each shard holds a partial product; the sum over tp is the full output. Under sequence
  // parallelism each rank keeps only its positions of that sum.
  return sequence_parallel_ ? reduce_scatter_sequence(partial, *tp_) : reduce_from_tp(partial, *tp_);
}

}  // namespace nf::parallel::tp
