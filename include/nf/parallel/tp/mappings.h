// The conjugate autograd mappings of tensor parallelism (Megatron-LM's f/g and scatter/gather),
// and the two of sequence parallelism (arXiv 2205.05198), which replace f and g when the hidden
// state is split along the sequence, dim 1 of activations [batch, seq, ...]. Each is the identity
// when the tp communicator has one rank.
//   copy_to_tp:               forward identity,          backward all-reduce (sum)
//   reduce_from_tp:           forward all-reduce (sum),  backward identity
//   scatter_to_tp:            forward keep this rank's slice of the last dim, backward all-gather it
//   gather_from_tp:           forward all-gather the last dim, backward keep this rank's slice
//   gather_sequence:          forward all-gather the sequence, backward reduce-scatter it (sum)
//   reduce_scatter_sequence:  forward reduce-scatter the sequence (sum), backward all-gather it
#pragma once

#include <torch/types.h>

#include "nf/dist/communicator.h"

namespace nf::parallel::tp {

torch::Tensor copy_to_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor reduce_from_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor scatter_to_tp(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor gather_from_tp(const torch::Tensor& input, dist::Communicator& tp);
// [batch, seq/tp, ...] (rank r holds positions [r·seq/tp, (r+1)·seq/tp)) -> [batch, seq, ...]. Its
// output feeds tensor-parallel projections, whose input gradients are partial sums over tp: backward
// sums them and keeps this rank's positions.
torch::Tensor gather_sequence(const torch::Tensor& input, dist::Communicator& tp);
// [batch, seq, ...] partial sums (a row-parallel output) -> [batch, seq/tp, ...], this rank's
// positions of the sum over tp; seq must be divisible by tp (DistError otherwise).
torch::Tensor reduce_scatter_sequence(const torch::Tensor& input, dist::Communicator& tp);

// Non-differentiable helpers the mappings and the vocab-parallel layers share.
torch::Tensor all_reduce_copy(const torch::Tensor& input, dist::Communicator& tp, dist::ReduceOp op);
torch::Tensor all_gather_last_dim(const torch::Tensor& input, dist::Communicator& tp);
torch::Tensor slice_last_dim(const torch::Tensor& input, dist::Communicator& tp);

}  // namespace nf::parallel::tp
