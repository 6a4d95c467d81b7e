// Vocabulary-parallel embedding and cross-entropy. The vocabulary is padded up to a multiple of
// tp (padded_size in shard.h); rank r owns rows [r·V', (r+1)·V') with V' = padded_vocab / tp.
// Padding rows are never looked up (ids < vocab_size) and never produce a probability (the loss
// masks logits of ids ≥ vocab_size), so both are exact for any vocab_size % tp.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "nf/dist/communicator.h"
#include "nf/parallel/tp/shard.h"

namespace nf::parallel::tp {

class VocabParallelEmbeddingImpl : public torch::nn::Module {
 public:
  // Creates the uninitialized shard [padded_vocab / tp, d]; nullptr or one rank = the full table.
  // With `sequence_parallel` the output is this rank's sequence shard (reduce-scattered).
  VocabParallelEmbeddingImpl(int64_t vocab_size, int64_t d, dist::Communicator* tp, bool sequence_parallel = false);
  // ids [..] (int64, < vocab_size) → [.., d], replicated on every tp rank; with sequence_parallel,
  // ids [batch, seq] → [batch, seq/tp, d], this rank's positions.
  torch::Tensor forward(const torch::Tensor& ids);
  const ShardSpec& spec() const { return spec_; }
  torch::Tensor weight;

 private:
  dist::Communicator* tp_;
  bool sequence_parallel_;
  ShardSpec spec_;
};
TORCH_MODULE(VocabParallelEmbedding);

// Per-token cross-entropy from vocab-sharded fp32 logits [N, V'] (this rank's columns
// [r·V', (r+1)·V') of the padded vocabulary) and global target ids [N]. Returns the loss per token
// [N], identical on every tp rank; gradients flow to the local logits only (softmax − one-hot,
// restricted to this rank's columns). A target outside [0, vocab_size) selects nothing (its loss
// is the log-sum-exp), so masked positions may hold any id.
torch::Tensor vocab_parallel_cross_entropy(const torch::Tensor& local_logits, const torch::Tensor& targets,
                                           int64_t vocab_size, dist::Communicator& tp);

}  // namespace nf::parallel::tp
