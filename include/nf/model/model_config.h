// The decoder's hyperparameters (config section `model`). Defaults here are the only defaults;
// their docs live beside the schema in model_keys.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nf::model {

// The projections LoRA can adapt, in a decoder layer's order: q_proj, k_proj, v_proj, o_proj,
// gate_proj, up_proj, down_proj.
const std::vector<std::string>& lora_module_names();

// LoRA adapters (model.lora; docs/lora.md): rank 0 = none. Each target projection gains a trainable
// pair A [rank, in], B [out, rank] beside its frozen weight: y = x Wᵀ + (alpha / rank) · x Aᵀ Bᵀ.
struct LoraConfig {
  int64_t rank = 0;
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> target_modules = lora_module_names();  // all of them

  bool enabled() const { return rank > 0; }
  double scale() const { return alpha / static_cast<double>(rank); }
  bool targets(const std::string& module) const;  // "q_proj", ... (the last part of its name)
};

// model.arch: which network the keys describe.
enum class Architecture {
  kLlama,       // the decoder-only language model (transformer.h)
  kNeuralFlow,  // the paragraph-latent model (paragraph_model.h, docs/neuralflow.md)
};
// model.brain_type: the NeuralFlow brain's sequence layers.
enum class BrainType { kMamba, kGru };
// The config names of both, the one place they are spelled.
const std::vector<std::pair<std::string, Architecture>>& architecture_names();
const std::vector<std::pair<std::string, BrainType>>& brain_type_names();
std::string name_of(BrainType brain);

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  int64_t vocab_size = 32000;
  int64_t d_model = 512;
  int64_t n_layers = 8;
  int64_t n_heads = 8;
  int64_t n_kv_heads = 0;  // 0 = n_heads (plain multi-head attention)
  int64_t ffn_hidden = 0;  // 0 = 8/3 · d_model rounded up to a multiple of 64 (Llama)
  int64_t max_seq_len = 1024;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  double init_std = 0.02;
  LoraConfig lora;
  // The NeuralFlow model (arch kNeuralFlow): its paragraph encoder and decoder are n_layers blocks
  // each of the decoder above (d_model, n_heads, ...); these keys are its own (the guide's names).
  int64_t d_latent = 64;   // a paragraph's latent
  int64_t num_layers = 2;  // the brain's layers
  BrainType brain_type = BrainType::kMamba;
  int64_t codebook_size = 512;     // VQ codes
  bool cosine_codebook = true;     // latents and codes compared on the sphere of radius √d_latent
  int64_t max_paragraph_len = 48;  // tokens of a paragraph (its <|eos|> included); longer ones are cut
  int64_t max_paragraphs = 5;      // paragraphs of a sequence the brain reads (the last ones), `next` included
  int64_t max_ponder_steps = 4;    // ACT's most thinking steps per paragraph
  int64_t mamba_d_state = 16;      // Mamba's state per channel
  std::vector<std::string> emotions = {"neutral", "happy", "sad", "angry"};  // the emotion labels, in id order

  bool neuralflow() const { return arch == Architecture::kNeuralFlow; }
  int64_t kv_heads() const { return n_kv_heads == 0 ? n_heads : n_kv_heads; }
  int64_t head_dim() const { return d_model / n_heads; }
  int64_t ffn_dim() const { return ffn_hidden != 0 ? ffn_hidden : (8 * d_model / 3 + 63) / 64 * 64; }
};

// Number of parameters of the Llama-style decoder this config describes (embedding, per-layer
// attention q/k/v/o, SwiGLU gate/up/down, two RMSNorms per layer, final norm, untied lm_head).
int64_t count_parameters(const ModelConfig& config);

// Cross-field checks (d_model % n_heads, n_heads % n_kv_heads; model.lora's targets and dropout);
// throws ConfigError naming keys.
void validate(const ModelConfig& config);

}  // namespace nf::model
