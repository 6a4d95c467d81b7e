// The NeuralFlow paragraph-latent model (model.arch neuralflow; docs/neuralflow.md): a paragraph's
// tokens are encoded to a latent (transformer blocks, mean-pooled, projected to d_latent) and
// quantized against a codebook (vector_quantizer.h); the brain (GRU or Mamba layers over the
// sequence of paragraph latents, then adaptive computation time, act.h) predicts each next latent;
// the decoder (transformer blocks reading the latent, plus an emotion embedding, as its first
// position) turns a latent back into tokens. Parameter names and shapes: paragraph_table.h. The
// trainer's four objectives (vqvae, dynamics, emotion, finetune) call these parts; none of them
// reduces over ranks.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nf/model/init.h"
#include "nf/model/layers.h"
#include "nf/model/model_config.h"
#include "nf/model/vector_quantizer.h"
#include "nf/parallel/dp/unit_hooks.h"

namespace nf::model {

// ACT halts once the cumulative halting probability reaches 1 − ε (Graves' ε = 0.01).
inline constexpr double kActThreshold = 0.99;

// What the brain makes of a sequence of latents.
struct BrainOutput {
  torch::Tensor prediction;   // [B, P, d_latent]: at position t, the latent of paragraph t + 1
  torch::Tensor ponder_cost;  // [B, P]: ACT's N + R per position
  torch::Tensor steps;        // [B, P] int64: ACT's thinking steps per position
};

class ParagraphModelImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError) and creates uninitialized parameters; call initialize().
  explicit ParagraphModelImpl(const ModelConfig& config);

  // tokens [N, L] int64, right-padded; lengths [N] int64 in [1, L] -> the encoder's latents [N,
  // d_latent], each of unit RMS (on_sphere) with model.cosine_codebook.
  torch::Tensor encode(const torch::Tensor& tokens, const torch::Tensor& lengths);
  // The nearest codes of latents [N, d_latent] in the codebook (its rows on_sphere with
  // model.cosine_codebook).
  Quantized quantize(const torch::Tensor& latents);
  // latents [B, P, d_latent] -> the prediction of each next latent (causal over P).
  BrainOutput think(const torch::Tensor& latents);
  // Teacher-forced logits [N, L, vocab] of tokens [N, L] given latents [N, d_latent]: position 0
  // reads the condition (the latent's projection, plus emotion.weight[e] where `emotions` [N] int64
  // is defined and e ≥ 0; −1 = none), position j > 0 token j − 1 plus the condition; position j
  // predicts token j. With `lengths` [N]: the logits of the counted positions only (j < lengths[row]), row by row, as
  // [Σ lengths, vocab]: the output projection skips the padding.
  torch::Tensor decode(const torch::Tensor& latents, const torch::Tensor& emotions, const torch::Tensor& tokens,
                       const torch::Tensor& lengths = {});
  // Log-probabilities [N, vocab] of a paragraph's tokens as a bag of words, from its latent alone
  // (the decoder's condition through its final norm and lm_head): the bag-of-words loss
  // (Zhao et al. 2017) makes the latent carry the paragraph's content from the first steps, before
  // the autoregressive decoder would learn to do without it.
  torch::Tensor bag_of_words(const torch::Tensor& latents);
  // A paragraph per row of latents [N, d_latent] (emotions as for decode): tokens chosen one at a
  // time (greedy at temperature 0, else sampled from `generator`) until `eos_id` or
  // model.max_paragraph_len tokens. Call under torch::NoGradGuard.
  std::vector<std::vector<int64_t>> generate(const torch::Tensor& latents, const torch::Tensor& emotions,
                                             int64_t eos_id, double temperature,
                                             std::optional<at::Generator> generator = std::nullopt);

  // Called around each transformer block (ZeRO 3's gathers; paragraph_unit_of); nullptr = none.
  void set_unit_hooks(parallel::dp::UnitHooks* hooks) { unit_hooks_ = hooks; }
  const ModelConfig& config() const { return config_; }
  // The quantizer's tensors: the codebook [K, d_latent] and its usage statistics (EMA count [K]
  // and sum [K, d_latent]), parameters the VQ objective may overwrite (EMA, dead-code restarts).
  torch::Tensor codebook() const { return codebook_; }
  torch::Tensor ema_count() const { return ema_count_; }
  torch::Tensor ema_sum() const { return ema_sum_; }

 private:
  // The n_layers transformer blocks of `stack` (encoder or decoder) over hidden [N, L, d_model].
  torch::Tensor run_blocks(const std::string& stack, torch::nn::ModuleDict& blocks, torch::Tensor hidden);

  ModelConfig config_;
  parallel::dp::UnitHooks* unit_hooks_ = nullptr;
  torch::Tensor encoder_embed_, decoder_embed_, codebook_, ema_count_, ema_sum_, emotion_weight_;
  torch::nn::ModuleDict encoder_blocks_{nullptr}, decoder_blocks_{nullptr}, brain_layers_{nullptr};
  RMSNorm encoder_norm_{nullptr}, brain_norm_{nullptr}, decoder_norm_{nullptr};
  torch::nn::Linear to_latent_{nullptr}, brain_in_{nullptr}, ponder_cell_{nullptr}, ponder_halt_{nullptr},
      brain_out_{nullptr}, from_latent_{nullptr}, lm_head_{nullptr};
};
TORCH_MODULE(ParagraphModel);

// Fills every parameter with its initial value, a pure function of (seed, name, shape) as for the
// decoder (init.h), with the model's own rules for the codebook, its statistics, the brain's
// biases and Mamba's A, D and Δ; returns the number of elements.
int64_t initialize(ParagraphModelImpl& model, const InitOptions& options);

}  // namespace nf::model
