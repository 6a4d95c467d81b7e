// Vocab-parallel embedding (masked local lookup + all-reduce) and cross-entropy (global max and
// sum-exp by all-reduce, backward softmax − one-hot on the local columns).
#include "nf/parallel/tp/vocab_parallel.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <algorithm>
#include <limits>

#include "nf/core/error.h"
#include "nf/parallel/tp/mappings.h"

namespace nf::parallel::tp {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct VocabParallelCrossEntropy : torch::autograd::Function<VocabParallelCrossEntropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& local_logits, const torch::Tensor& targets,
                               int64_t vocab_size, dist::Communicator& tp) {
    const int64_t shard = local_logits.size(1);
    const int64_t start = tp.rank() * shard;
    torch::Tensor logits = local_logits;
    const int64_t valid = std::clamp<int64_t>(vocab_size - start, 0, shard);
    if (valid < shard) {  // padding columns of the vocabulary: never a probability
      logits = logits.clone();
      logits.narrow(1, valid, shard - valid).fill_(-std::numeric_limits<float>::infinity());
    }
    const torch::Tensor global_max = all_reduce_copy(std::get<0>(logits.max(1)), tp, dist::ReduceOp::kMax);
    const torch::Tensor shifted = logits - global_max.unsqueeze(1);
    const torch::Tensor exp = shifted.exp();
    const torch::Tensor sum_exp = all_reduce_copy(exp.sum(1), tp, dist::ReduceOp::kSum);
    const torch::Tensor outside = (targets < start) | (targets >= start + shard);
    const torch::Tensor local_targets = (targets - start).masked_fill(outside, 0);
    const torch::Tensor picked = all_reduce_copy(
        shifted.gather(1, local_targets.unsqueeze(1)).squeeze(1).masked_fill(outside, 0.0), tp, dist::ReduceOp::kSum);
    ctx->save_for_backward({exp / sum_exp.unsqueeze(1), local_targets, outside});
    return sum_exp.log() - picked;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    torch::Tensor grad = saved[0].clone();  // softmax over the whole vocabulary, local columns
    const torch::Tensor one_hot_value = (~saved[2]).to(grad.scalar_type());
    grad.scatter_add_(1, saved[1].unsqueeze(1), -one_hot_value.unsqueeze(1));
    return {grad * grads[0].unsqueeze(1), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

VocabParallelEmbeddingImpl::VocabParallelEmbeddingImpl(int64_t vocab_size, int64_t d, dist::Communicator* tp,
                                                       bool sequence_parallel)
    : tp_(tp), sequence_parallel_(sequence_parallel), spec_(split_spec(0, vocab_size, tp, /*pad=*/true)) {
  weight = register_parameter("weight", torch::empty(shard_shape({vocab_size, d}, spec_), torch::kFloat));
}

torch::Tensor VocabParallelEmbeddingImpl::forward(const torch::Tensor& ids) {
  if (tp_ == nullptr || tp_->size() == 1) return at::embedding(weight, ids);
  const int64_t shard = spec_.shard_size(), start = spec_.offset();
  const torch::Tensor outside = (ids < start) | (ids >= start + shard);
  const torch::Tensor local = at::embedding(weight, (ids - start).masked_fill(outside, 0));
  // Rows this rank does not own contribute zeros; the sum over tp assembles every row (under
  // sequence parallelism, only this rank's positions of it).
  const torch::Tensor partial = local.masked_fill(outside.unsqueeze(-1), 0.0);
  return sequence_parallel_ ? reduce_scatter_sequence(partial, *tp_) : reduce_from_tp(partial, *tp_);
}

torch::Tensor vocab_parallel_cross_entropy(const torch::Tensor& local_logits, const torch::Tensor& targets,
                                           int64_t vocab_size, dist::Communicator& tp) {
  NF_CHECK(local_logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == local_logits.size(0), UsageError,
           "vocab_parallel_cross_entropy: logits ", local_logits.sizes(), " and targets ", targets.sizes(),
           " must be [N, padded_vocab / tp] and [N]");
  NF_CHECK(local_logits.size(1) * tp.size() >= vocab_size, UsageError, "vocab_parallel_cross_entropy: ", tp.size(),
           " shards of ", local_logits.size(1), " logits cannot hold a vocabulary of ", vocab_size);
  return VocabParallelCrossEntropy::apply(local_logits, targets, vocab_size, tp);
}

}  // namespace nf::parallel::tp
