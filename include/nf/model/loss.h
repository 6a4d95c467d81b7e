// Next-token cross-entropy as a sum and a token count, so that micro-batches, data-parallel ranks
// and pipeline stages combine partial results exactly: mean = Σ sums / Σ counts.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "nf/dist/communicator.h"

namespace nf::model {

struct LossSum {
  at::Tensor sum;    // fp32 scalar, Σ over counted tokens of -log p(target); carries the graph
  at::Tensor count;  // int64 scalar, number of counted tokens (same device as sum)

  // sum / count; the loss of this part alone (NaN-free: 0 when count is 0).
  at::Tensor mean() const;
};

// logits [batch, seq, vocab] (any float dtype; computed in fp32), targets [batch, seq] int64,
// loss_mask [batch, seq] (bool or 0/1) selecting the tokens that count; no mask = every token.
// To train on the mean over several parts, backward on part.sum / total_count.
LossSum cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets,
                          const std::optional<at::Tensor>& loss_mask = std::nullopt);

// The same (sum, count) from a tensor-parallel model's vocab-sharded logits [batch, seq,
// padded_vocab / tp] (this rank's columns, padding past vocab_size ignored): identical on every tp
// rank and equal to cross_entropy_sum over the gathered logits; gradients reach the local logits.
LossSum vocab_parallel_cross_entropy_sum(const at::Tensor& local_logits, const at::Tensor& targets, int64_t vocab_size,
                                         dist::Communicator& tp,
                                         const std::optional<at::Tensor>& loss_mask = std::nullopt);

// Σ log p(target) over each row's counted tokens: [batch] fp32, carrying the graph. A row's score
// of its response (DPO): `loss_mask` selects the response's tokens.
at::Tensor sequence_log_probs(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& loss_mask);

// The same from vocab-sharded logits (as vocab_parallel_cross_entropy_sum): identical on every tp
// rank and equal to sequence_log_probs over the gathered logits.
at::Tensor vocab_parallel_sequence_log_probs(const at::Tensor& local_logits, const at::Tensor& targets,
                                             int64_t vocab_size, dist::Communicator& tp, const at::Tensor& loss_mask);

}  // namespace nf::model
