// The DPO loss (Rafailov et al. 2023) with conservative label smoothing (cDPO), from the summed
// response log-probabilities of the policy and of a frozen reference model, one value per pair:
//
//   x      = beta · ((policy_chosen − policy_rejected) − (reference_chosen − reference_rejected))
//   loss   = −(1 − label_smoothing) · log σ(x) − label_smoothing · log σ(−x)
//   reward = beta · (policy − reference), for the chosen and the rejected response
//
// label_smoothing is the probability that a pair's preference is flipped: the loss is then the
// expected loss under that noise (TRL's "sigmoid" loss with label_smoothing).
#pragma once

#include <ATen/core/Tensor.h>

namespace nf::model {

struct DpoOptions {
  double beta = 0.1;
  double label_smoothing = 0.0;
};

struct DpoTerms {
  at::Tensor losses;            // [pairs] fp32, carries the graph to the policy's log-probs
  at::Tensor chosen_rewards;    // [pairs], detached
  at::Tensor rejected_rewards;  // [pairs], detached
};

// Every argument is [pairs]: the Σ log p of each pair's response (sequence_log_probs). The
// reference's carry no gradient. UsageError when the shapes differ.
DpoTerms dpo_loss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected,
                  const at::Tensor& reference_chosen, const at::Tensor& reference_rejected, const DpoOptions& options);

}  // namespace nf::model
