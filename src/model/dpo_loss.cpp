// The DPO loss and rewards; see dpo_loss.h.
#include "nf/model/dpo_loss.h"

#include <ATen/ATen.h>

#include "nf/core/error.h"

namespace nf::model {

DpoTerms dpo_loss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                  const at::Tensor& reference_chosen, const at::Tensor& reference_rejected, const DpoOptions& options) {
  NF_CHECK(policy_chosen.dim() == 1 && policy_rejected.sizes() == policy_chosen.sizes() &&
               reference_chosen.sizes() == policy_chosen.sizes() && reference_rejected.sizes() == policy_chosen.sizes(),
           UsageError, "dpo_loss: the four log-probabilities must be [pairs] each, got ", policy_chosen.sizes(), ", ",
           policy_rejected.sizes(), ", ", reference_chosen.sizes(), " and ", reference_rejected.sizes());
  const at::Tensor frozen_chosen = reference_chosen.detach();
  const at::Tensor frozen_rejected = reference_rejected.detach();
  const at::Tensor x = options.beta * ((policy_chosen - policy_rejected) - (frozen_chosen - frozen_rejected));
  // log σ through log_sigmoid: exact for large |x|, where log(sigmoid(x)) would round to −inf.
  at::Tensor losses = -at::log_sigmoid(x) * (1.0 - options.label_smoothing);
  if (options.label_smoothing > 0) losses = losses - at::log_sigmoid(-x) * options.label_smoothing;
  return {losses, options.beta * (policy_chosen.detach() - frozen_chosen),
          options.beta * (policy_rejected.detach() - frozen_rejected)};
}

}  // namespace nf::model
