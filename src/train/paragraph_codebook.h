// The VQ codebook's upkeep after each step of a stage that reconstructs paragraphs
// (docs/neuralflow.md): the global batch's code usage (summed over dp), its perplexity, the usage
// counts' EMA (always: they find dead codes), the EMA codebook (training.vqvae.ema) and dead-code
// restarts, and the latents' spread. Every dp rank computes the same new values. Private to
// src/train.
#pragma once

#include <ATen/Tensor.h>

#include "nf/dist/communicator.h"
#include "nf/model/paragraph_model.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/train/config.h"

namespace nf::train {

struct CodebookUpkeep {
  parallel::dp::NamedTensors writes;  // quantizer.codebook, ema_count, ema_sum: their new values
  double perplexity = 0;              // of the global batch's codes
  double usage_perplexity = 0;        // of the usage counts' EMA: the codebook's use over ~1/(1 − decay) steps
  double dead_codes = 0;              // codes below the usage threshold, before restarts
  double restarted = 0;               // of them, restarted at a latent
  // The global batch's latents' variance per dimension around their mean (near 0 = collapsed).
  double latent_spread = 0;
};

// `counts` [K] and `sums` [K, d_latent]: this rank's code usage over the step; `latents` [n,
// d_latent]: its paragraphs' latents, the restart candidates. The dead codes restart, lowest index
// first, at the global batch's latents worst served by the codes that stay (after this step's
// update, compared as the model compares them), skipping a latent that (nearly) coincides with a
// code that stays or with one already chosen: two equal codes would tie for every latent.
CodebookUpkeep codebook_upkeep(model::ParagraphModelImpl& model, const VqvaeConfig& config, at::Tensor counts,
                               at::Tensor sums, const at::Tensor& latents, dist::Communicator& dp);

}  // namespace nf::train
