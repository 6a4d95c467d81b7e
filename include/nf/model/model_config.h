// The decoder's hyperparameters (config section `model`). Defaults here are the only defaults;
// their docs live beside the schema in model_keys.h.
#pragma once

#include <cstdint>
#include <string>
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

struct ModelConfig {
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
