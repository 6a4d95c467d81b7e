// Token-level cross-entropy as (sum, count); see loss.h.
#include "nf/model/loss.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"
#include "nf/parallel/tp/vocab_parallel.h"

namespace nf::model {
namespace {

void check_shapes(const char* function, const at::Tensor& logits, const at::Tensor& targets) {
  NF_CHECK(
      logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) && logits.size(1) == targets.size(1),
      UsageError, function, ": logits ", logits.sizes(), " and targets ", targets.sizes(),
      " must be [batch, seq, vocab] and [batch, seq]");
}

// −log p(target) per token [batch, seq], in fp32.
at::Tensor token_losses(const at::Tensor& logits, const at::Tensor& targets) {
  const int64_t vocab = logits.size(-1);
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, vocab}), targets.reshape({-1}), /*weight=*/{},
                                at::Reduction::None)
      .view_as(targets);
}

at::Tensor vocab_parallel_token_losses(const at::Tensor& local_logits, const at::Tensor& targets, int64_t vocab_size,
                                       dist::Communicator& tp) {
  return parallel::tp::vocab_parallel_cross_entropy(local_logits.to(at::kFloat).reshape({-1, local_logits.size(-1)}),
                                                    targets.reshape({-1}), vocab_size, tp)
      .view_as(targets);
}

// Σ log p over each row's counted tokens: where(), not a product, as in masked_sum.
at::Tensor row_log_probs(const at::Tensor& per_token_loss, const at::Tensor& loss_mask) {
  NF_CHECK(loss_mask.sizes() == per_token_loss.sizes(), UsageError, "sequence_log_probs: loss mask ", loss_mask.sizes(),
           " must match targets ", per_token_loss.sizes());
  return -at::where(loss_mask.to(at::kBool), per_token_loss, at::zeros_like(per_token_loss)).sum(1);
}

// Σ of the per-token losses [batch, seq] over the counted tokens, and their count.
LossSum masked_sum(const at::Tensor& per_token, const at::Tensor& targets, const std::optional<at::Tensor>& loss_mask) {
  if (!loss_mask) return {per_token.sum(), at::scalar_tensor(targets.numel(), targets.options().dtype(at::kLong))};
  NF_CHECK(loss_mask->sizes() == targets.sizes(), UsageError, "cross_entropy_sum: loss mask ", loss_mask->sizes(),
           " must match targets ", targets.sizes());
  const at::Tensor mask = loss_mask->to(at::kBool);
  // where(), not a product: an ignored position's loss may be anything, even inf, and must not leak.
  return {at::where(mask, per_token, at::zeros_like(per_token)).sum(), mask.sum(at::kLong)};
}

}  // namespace

at::Tensor LossSum::mean() const { return sum / count.clamp_min(1).to(sum.scalar_type()); }

LossSum cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets,
                          const std::optional<at::Tensor>& loss_mask) {
  check_shapes("cross_entropy_sum", logits, targets);
  return masked_sum(token_losses(logits, targets), targets, loss_mask);
}

LossSum vocab_parallel_cross_entropy_sum(const at::Tensor& local_logits, const at::Tensor& targets, int64_t vocab_size,
                                         dist::Communicator& tp, const std::optional<at::Tensor>& loss_mask) {
  check_shapes("vocab_parallel_cross_entropy_sum", local_logits, targets);
  return masked_sum(vocab_parallel_token_losses(local_logits, targets, vocab_size, tp), targets, loss_mask);
}

at::Tensor sequence_log_probs(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& loss_mask) {
  check_shapes("sequence_log_probs", logits, targets);
  return row_log_probs(token_losses(logits, targets), loss_mask);
}

at::Tensor vocab_parallel_sequence_log_probs(const at::Tensor& local_logits, const at::Tensor& targets,
                                             int64_t vocab_size, dist::Communicator& tp, const at::Tensor& loss_mask) {
  check_shapes("vocab_parallel_sequence_log_probs", local_logits, targets);
  return row_log_probs(vocab_parallel_token_losses(local_logits, targets, vocab_size, tp), loss_mask);
}

}  // namespace nf::model
