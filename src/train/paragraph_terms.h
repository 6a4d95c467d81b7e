// The NeuralFlow stages' arithmetic on one micro-batch (docs/neuralflow.md): the sums each loss term
// divides by a global count, and the statistics the log reports. Private to src/train.
#pragma once

#include <ATen/Tensor.h>

#include "nf/model/paragraph_model.h"
#include "nf/train/config.h"
#include "objective_spec.h"

namespace nf::train {

// What the terms divide by, over the global batch: counted tokens of every paragraph, paragraphs,
// predictions (each paragraph after a record's first), tokens of the `next` paragraphs decoded
// from predictions (records of two paragraphs or more).
struct ParagraphCounts {
  double tokens = 0, paragraphs = 0, predictions = 0, next_tokens = 0;
};
// This rank's rows: lengths [rows, max_paragraphs].
ParagraphCounts count_paragraphs(const at::Tensor& lengths);

// A micro-batch's sums. The loss terms are differentiable scalars (undefined for a part the
// stage does not run); the rest are detached statistics.
struct ParagraphSums {
  at::Tensor recon;                   // Σ −log p of every paragraph's tokens, decoded from its own code
  at::Tensor bow;                     // Σ −log p of the same tokens as a bag of words of its latent
  at::Tensor commit;                  // Σ (z − sg(q))² over paragraphs and latent dims
  at::Tensor codebook;                // Σ (q − sg(z))²
  at::Tensor prediction;              // Σ (prediction − next code)² over predictions and latent dims
  at::Tensor ponder;                  // Σ ACT ponder cost over predictions
  at::Tensor next;                    // Σ −log p of `next`'s tokens, decoded from the prediction with the emotion
  double steps = 0;                   // Σ ACT thinking steps over predictions
  double copy_last = 0;               // Σ (this code − next code)²: the copy-the-last-latent baseline
  double target_squares = 0;          // Σ ‖next code‖² (with target_sum: the mean-latent baseline)
  at::Tensor target_sum;              // [d_latent] Σ next code
  at::Tensor code_counts, code_sums;  // [K], [K, d_latent]: each code's paragraphs (reconstruct)
  at::Tensor latents;                 // [n, d_latent]: encoder latents (reconstruct)
};

// The sums of a micro-batch: tokens [rows, max_paragraphs, max_paragraph_len], lengths [rows,
// max_paragraphs], emotions [rows].
ParagraphSums paragraph_sums(model::ParagraphModelImpl& model, const ParagraphParts& parts, const at::Tensor& tokens,
                             const at::Tensor& lengths, const at::Tensor& emotions);

// The model's top-level modules (parameter name prefixes) a stage leaves as they are: no gradient
// reaches them, and they get no weight decay, so AdamW (from its fresh state: zero moments) moves
// them by exactly nothing.
std::vector<std::string> frozen_modules(const ParagraphParts& parts);

// The weights of the terms.
struct ParagraphWeights {
  double beta_commit = 0, gamma_codebook = 0, bag_of_words = 0, ponder = 0;
  int64_t d_latent = 1;
};
ParagraphWeights paragraph_weights(const TrainConfig& config);

// The stage's loss: each term's sum over the global count, weighted; `sums`' terms may be tensors
// (a micro-batch's, to backward) or the global batch's totals.
at::Tensor paragraph_loss(const ParagraphSums& sums, const ParagraphCounts& counts, const ParagraphWeights& weights);

}  // namespace nf::train
