// The dpo stage's step (docs/stages.md): the policy (the model being trained) against a frozen
// reference model, on batches of preference pairs. Private to src/train.
//
// A dp rank's batch holds its pairs' chosen rows, then their rejected rows (data_loader.h). The
// rows are reordered so that each micro-batch of `micro_batch_size` pairs is [chosen ‖ rejected]
// of the same pairs, and the loss of a micro-batch needs nothing from another one. Per step:
//  1. the reference runs forward over every micro-batch (no gradients, through every pipeline
//     stage); the last stage keeps each row's Σ log p of its response tokens (the loss mask);
//  2. the policy runs the training schedule; at the last stage each micro-batch's DPO loss
//     (model/dpo_loss.h) over its pairs, divided by the global pair count, starts backward.
// Under tp both models' log-probs are vocab-parallel (identical on every tp rank); under pp the
// reference holds the same stage's layers as the policy; the totals are summed over pp and dp.
#pragma once

#include <memory>

#include "nf/model/dpo_loss.h"
#include "nf/train/metrics.h"
#include "objective.h"
#include "step.h"

namespace nf::train {

// Sums over the global batch's pairs; every rank gets them.
struct PreferenceTotals {
  double loss_sum = 0;
  double chosen_reward_sum = 0;
  double rejected_reward_sum = 0;
  double correct = 0;  // pairs whose chosen reward exceeds the rejected one
  double pairs = 0;

  double loss() const { return pairs > 0 ? loss_sum / pairs : 0.0; }
  PreferenceMetrics metrics() const;
  PreferenceTotals& operator+=(const PreferenceTotals& other);
};

class DpoObjective : public Objective {
 public:
  // `reference`: the frozen model, built like the policy (config, tp, stage part) and holding the
  // policy's starting weights; its parameters stop requiring gradients here, and on a last pipeline
  // stage its tied embedding copy is synced (collective over pp). Under LoRA it is the policy itself,
  // run with its adapters off: the frozen base.
  // `policy`: the model being trained.
  DpoObjective(model::CausalLM policy, model::CausalLM reference, const dist::Mesh& mesh,
               const model::DpoOptions& options, int64_t pairs_per_micro_batch, bool bf16_autocast,
               parallel::pp::ScheduleKind schedule);

  // Forward and backward of the policy over this rank's pairs; the gradients are those of the
  // global batch's mean DPO loss once summed over dp.
  ObjectiveTotals forward_backward(const DeviceBatch& batch, const BackwardHooks& hooks) override;
  // The same totals without gradients (validation), summed over the batches.
  ObjectiveTotals evaluate(const std::function<DeviceBatch(uint64_t)>& batch, uint64_t batches) override;

 private:
  // [rows] Σ log p of each row's response under the reference, on the last stage (undefined elsewhere).
  at::Tensor reference_log_probs(const DeviceBatch& paired);
  // The micro-batch's DPO terms from the policy's logits of rows [begin, begin + length).
  model::DpoTerms micro_batch_terms(model::CausalLM& policy, const at::Tensor& logits, const DeviceBatch& paired,
                                    const at::Tensor& reference, int64_t begin, int64_t length) const;
  // On `device`, where the dp and pp backends carry tensors (NCCL takes no host tensors).
  PreferenceTotals all_reduce(const PreferenceTotals& local, const c10::Device& device) const;
  // This rank's totals of one batch without gradients, not reduced.
  PreferenceTotals local_evaluation(model::CausalLM& policy, const DeviceBatch& batch);

  model::CausalLM policy_;
  model::CausalLM reference_;
  const dist::Mesh& mesh_;
  model::DpoOptions options_;
  int64_t pairs_per_micro_batch_;
  bool bf16_autocast_;
  parallel::pp::ScheduleKind schedule_;
};

// `batch` with its rows reordered so that rows [2·k·p, 2·(k+1)·p) are the chosen then the rejected
// rows of pairs [k·p, (k+1)·p), p = pairs_per_micro_batch.
DeviceBatch pair_micro_batches(const DeviceBatch& batch, int64_t pairs_per_micro_batch);

}  // namespace nf::train
