// Column/row-parallel linear layers built on the conjugate mappings.
#include "nf/parallel/tp/linear.h"

#include <ATen/ATen.h>

#include "nf/parallel/tp/mappings.h"

namespace nf::parallel::tp {
namespace {

bool parallel(const dist::Communicator* tp) { return tp != nullptr && tp->size() > 1; }

}  // namespace

ColumnParallelLinearImpl::ColumnParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp)
    : tp_(tp), spec_(split_spec(0, out_features, tp, /*pad=*/false)) {
  weight = register_parameter("weight", torch::empty(shard_shape({out_features, in_features}, spec_), torch::kFloat));
}

torch::Tensor ColumnParallelLinearImpl::forward(const torch::Tensor& input) {
  if (!parallel(tp_)) return at::linear(input, weight);
  // f: the input is replicated, so its gradient is the sum of every shard's contribution.
  return at::linear(copy_to_tp(input, *tp_), weight);
}

torch::Tensor ColumnParallelLinearImpl::forward_copied(const torch::Tensor& copied_input) {
  return at::linear(copied_input, weight);
}

RowParallelLinearImpl::RowParallelLinearImpl(int64_t in_features, int64_t out_features, dist::Communicator* tp,
                                             bool sequence_parallel)
    : tp_(tp), sequence_parallel_(sequence_parallel), spec_(split_spec(1, in_features, tp, /*pad=*/false)) {
  weight = register_parameter("weight", torch::empty(shard_shape({out_features, in_features}, spec_), torch::kFloat));
}

torch::Tensor RowParallelLinearImpl::forward(const torch::Tensor& input) {
  if (!parallel(tp_)) return at::linear(input, weight);
  // g: each shard holds a partial product; the sum over tp is the full output. Under sequence
  // parallelism each rank keeps only its positions of that sum.
  const torch::Tensor partial = at::linear(input, weight);
  return sequence_parallel_ ? reduce_scatter_sequence(partial, *tp_) : reduce_from_tp(partial, *tp_);
}

}  // namespace nf::parallel::tp
