// The parameters of the NeuralFlow paragraph-latent model (model.arch neuralflow, docs/neuralflow.md)
// as data, without LibTorch: their names and full shapes in the order the model registers them, and
// the ZeRO-3 unit of each. The model checks itself against this table at construction; checkpoints,
// resharding and parameter counts walk it (sharding.h dispatches on model.arch).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nf/model/model_config.h"

namespace nf::model {

// (name, full shape) of every parameter, in registration order:
//   encoder.embed_tokens, encoder.layers.<i>.*, encoder.norm, encoder.to_latent   the paragraph encoder
//   quantizer.codebook, quantizer.ema_count, quantizer.ema_sum  the codebook and its usage statistics
//   brain.in_proj, brain.layers.<i>.{norm, gru|mamba}.*, brain.norm, brain.ponder.*, brain.out_proj
//   emotion.weight                           one embedding per model.emotions label
//   decoder.embed_tokens, decoder.from_latent, decoder.layers.<i>.*, decoder.norm, decoder.lm_head
// The encoder's and the decoder's blocks are n_layers of the Llama decoder's. Encoder and decoder
// share no embedding: as the decoder learns token frequencies, its gradient drags every token's
// embedding one way, and an encoder reading those embeddings maps every paragraph to one latent
// (the codebook collapses).
std::vector<std::pair<std::string, std::vector<int64_t>>> paragraph_parameter_table(const ModelConfig& config);

// ZeRO 3's unit of a parameter: "encoder.layer.<i>" / "decoder.layer.<i>" for the transformer blocks
// (gathered around each block's forward); "<stack>.input" (the embedding, the decoder's latent
// projection) and "<stack>.output" (the norm and the projection after the blocks) for the rest of
// encoder and decoder; else the top-level module ("quantizer", "brain", "emotion"). Every unit but
// the blocks is pinned (paragraph_pinned_units): small, or read in more than one place.
std::string paragraph_unit_of(const std::string& name);
std::set<std::string> paragraph_pinned_units();

// Mamba's inner width (2 · d_model) and its Δ projection's rank (⌈d_model / 16⌉), as mamba-ssm's.
int64_t mamba_inner(const ModelConfig& config);
int64_t mamba_dt_rank(const ModelConfig& config);
inline constexpr int64_t kMambaConvWidth = 4;

}  // namespace nf::model
