// The four conjugate autograd mappings of tensor parallelism (Megatron-LM's f/g and
// scatter/gather). Each is the identity when the tp communicator has one rank.
//   copy_to_tp:      forward identity,             backward all-reduce (sum)
//   reduce_from_tp:  forward all-reduce (sum),      backward identity
//   scatter_to_tp:   forward keep this rank's slice of the last dim, backward all-gather it
//   gather_from_tp:  forward all-gather the last dim, backward keep this rank's slice
#pragma once

#include <torch/types.h>

#include "nf/dist/communicator.h"

namespace nf::parallel::tp {

torch::Tensor copy_to_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor reduce_from_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor scatter_to_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor gather_from_tp(const torch::Tensor& input, dist::Communicator& tp);

// Non-differentiable helpers the mappings and the vocab-parallel layers share.
torch::Tensor all_reduce_copy(const torch::Tensor& input, dist::Communicator& tp, dist::ReduceOp op);
torch::Tensor all_gather_last_dim(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor slice_last_dim(const torch::Tensor& input, dist::Communicator& tp);

}  // namespace nf::parallel::tp
