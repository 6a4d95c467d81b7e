// The `model` section's keys, declared once for every schema that holds a ModelConfig: the
// trainer's config (train/config.h) and the checkpoint code's reading of a saved config.yaml
// (ckpt/checkpoint.h). Each key's doc is here; its default is ModelConfig's.
#pragma once

#include "nf/core/config/schema.h"
#include "nf/model/model_config.h"

namespace nf::model {

// model.lora.*: a nested section, set through the ModelConfig member.
template <class Root>
void declare_lora_keys(config::Schema<Root>& s, ModelConfig Root::*section) {
  s.nested_field(section, &ModelConfig::lora, &LoraConfig::rank, "model.lora.rank",
                 "LoRA adapters' rank; 0 = full fine-tuning (docs/lora.md). The base weights are then frozen.")
      .at_least(0);
  s.nested_field(section, &ModelConfig::lora, &LoraConfig::alpha, "model.lora.alpha",
                 "LoRA scaling: the adapters' product is multiplied by alpha / rank.");
  s.nested_field(section, &ModelConfig::lora, &LoraConfig::dropout, "model.lora.dropout",
                 "Dropout on the adapters' input; must be 0 (nf applies none: it would depend on the layout).")
      .at_least(0);
  s.nested_field(section, &ModelConfig::lora, &LoraConfig::target_modules, "model.lora.target_modules",
                 "The projections that get adapters: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.");
}

template <class Root>
void declare_model_keys(config::Schema<Root>& s, ModelConfig Root::*section) {
  s.field(section, &ModelConfig::vocab_size, "model.vocab_size", "Vocabulary size; must match the dataset's tokenizer.")
      .at_least(1);
  s.field(section, &ModelConfig::d_model, "model.d_model", "Hidden size of the residual stream.").at_least(2);
  s.field(section, &ModelConfig::n_layers, "model.n_layers", "Number of decoder layers.").at_least(1);
  s.field(section, &ModelConfig::n_heads, "model.n_heads", "Number of attention (query) heads.").at_least(1);
  s.field(section, &ModelConfig::n_kv_heads, "model.n_kv_heads",
          "Key/value heads for grouped-query attention; 0 = n_heads.")
      .at_least(0);
  s.field(section, &ModelConfig::ffn_hidden, "model.ffn_hidden",
          "SwiGLU hidden size; 0 = 8/3·d_model rounded up to a multiple of 64.")
      .at_least(0);
  s.field(section, &ModelConfig::max_seq_len, "model.max_seq_len", "Longest sequence the model supports.").at_least(1);
  s.field(section, &ModelConfig::rope_theta, "model.rope_theta", "Base of the rotary position embedding frequencies.")
      .at_least(1);
  s.field(section, &ModelConfig::norm_eps, "model.norm_eps", "Epsilon of RMSNorm.").at_least(0);
  s.field(section, &ModelConfig::tie_embeddings, "model.tie_embeddings",
          "Share the input embedding with the output projection.");
  s.field(section, &ModelConfig::init_std, "model.init_std", "Standard deviation of the normal weight init.")
      .at_least(0);
  declare_lora_keys(s, section);
}

}  // namespace nf::model
