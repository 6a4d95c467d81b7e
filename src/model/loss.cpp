// Token-level cross-entropy as (sum, count); see loss.h.
#include "nf/model/loss.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"

namespace nf::model {

at::Tensor LossSum::mean() const { return sum / count.clamp_min(1).to(sum.scalar_type()); }

LossSum cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets,
                          const std::optional<at::Tensor>& loss_mask) {
  NF_CHECK(
      logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) && logits.size(1) == targets.size(1),
      UsageError, "cross_entropy_sum: logits ", logits.sizes(), " and targets ", targets.sizes(),
      " must be [batch, seq, vocab] and [batch, seq]");
  const int64_t vocab = logits.size(-1);
  const at::Tensor per_token = at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, vocab}), targets.reshape({-1}),
                                                      /*weight=*/{}, at::Reduction::None)
                                   .view_as(targets);
  if (!loss_mask) return {per_token.sum(), at::scalar_tensor(targets.numel(), targets.options().dtype(at::kLong))};
  NF_CHECK(loss_mask->sizes() == targets.sizes(), UsageError, "cross_entropy_sum: loss mask ", loss_mask->sizes(),
           " must match targets ", targets.sizes());
  const at::Tensor mask = loss_mask->to(at::kBool);
  // where(), not a product: an ignored position's loss may be anything, even inf, and must not leak.
  return {at::where(mask, per_token, at::zeros_like(per_token)).sum(), mask.sum(at::kLong)};
}

}  // namespace nf::model
