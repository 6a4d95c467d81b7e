// The trainer's arithmetic on one global batch, apart from the bookkeeping around it (trainer.cpp).
// Private to src/train.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nf/data/data_loader.h"
#include "nf/dist/mesh.h"
#include "nf/model/transformer.h"
#include "nf/parallel/pp/schedule.h"

namespace nf::train {

// This rank's rows of a batch on `device`: int64 inputs/targets [rows, seq], bool loss mask. Paragraph
// rows (the neuralflow stages) have inputs [rows, max_paragraphs · max_paragraph_len] and their
// slots' lengths and emotions instead of targets and mask (data_loader.h).
struct DeviceBatch {
  at::Tensor inputs, targets, loss_mask;
  at::Tensor document_ids;       // [rows, seq] int64 with training.document_mask, else undefined
  at::Tensor paragraph_lengths;  // [rows, max_paragraphs] int64, paragraph rows only
  at::Tensor emotions;           // [rows] int64, paragraph rows only
};
DeviceBatch to_device(const data::Batch& batch, const c10::Device& device);

struct LossTotals {
  double sum = 0;    // Σ −log p over every counted token of the global batch (all dp ranks)
  double count = 0;  // counted tokens of the global batch
  double mean() const { return count > 0 ? sum / count : 0.0; }
};

// What the trainer runs around this stage's backward passes: `before_last_backward` just before
// the last one (GradSync::arm, so that bucket reductions overlap with it; the tied embedding's
// gradient from the last stage), `after_backward` after all of them, before the step's loss
// reduction (the last stage sends the tied embedding's gradient).
struct BackwardHooks {
  std::function<void()> before_last_backward = [] {};
  std::function<void()> after_backward = [] {};
};

// What the last pipeline stage makes of one micro-batch's logits, rows [begin, begin + length) of
// the batch: the scalar its backward starts from (ignored when running forward only).
using HeadFunction = std::function<at::Tensor(const at::Tensor& logits, int64_t begin, int64_t length)>;

// Forward and backward of this rank's stage over the batch in micro-batches of `micro_batch_size`
// rows, under `schedule` (one stage: forward then backward per micro-batch, plain accumulation);
// `head` runs on the last stage. The building block of the stages' objectives.
void run_training_schedule(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                           const dist::Mesh& mesh, parallel::pp::ScheduleKind schedule, bool bf16_autocast,
                           const BackwardHooks& hooks, HeadFunction head);

// Forward only, without gradients, every micro-batch in order through every stage.
void run_forward(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size, const dist::Mesh& mesh,
                 bool bf16_autocast, HeadFunction head);

// The next-token loss (pretrain, sft).
// Forward and backward over this rank's rows in micro-batches of `micro_batch_size`, each
// micro-batch's loss sum divided by the global token count, so that after the gradients are
// summed over dp they are the gradients of the global batch's mean loss. Returns the global totals.
// With pp > 1 this rank runs its stage's part under `schedule` (parallel/pp); every stage gets the
// totals.
LossTotals forward_backward(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                            const dist::Mesh& mesh, parallel::pp::ScheduleKind schedule, bool bf16_autocast,
                            const BackwardHooks& hooks);

// The global batch's loss without gradients (validation), forward through every stage.
LossTotals evaluate(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size, const dist::Mesh& mesh,
                    bool bf16_autocast);

// CUDA bf16 autocast for its lifetime (fp32 master weights and optimizer; matmuls in bf16); a
// no-op when `enabled` is false.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool enabled);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_;
};

}  // namespace nf::train
