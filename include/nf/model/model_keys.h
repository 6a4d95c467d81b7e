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

// The NeuralFlow paragraph-latent model's own keys (model.arch neuralflow; the guide's names).
template <class Root>
void declare_neuralflow_keys(config::Schema<Root>& s, ModelConfig Root::*section) {
  s.field(section, &ModelConfig::d_latent, "model.d_latent", "neuralflow: size of a paragraph's latent vector.")
      .at_least(1);
  s.field(section, &ModelConfig::num_layers, "model.num_layers",
          "neuralflow: layers of the brain (the sequence model over paragraph latents).")
      .at_least(1);
  s.enum_field(section, &ModelConfig::brain_type, "model.brain_type",
               "neuralflow: the brain's layers, mamba (selective state space) or gru.", brain_type_names());
  s.field(section, &ModelConfig::codebook_size, "model.codebook_size", "neuralflow: codes of the VQ-VAE codebook.")
      .at_least(2);
  s.field(section, &ModelConfig::cosine_codebook, "model.cosine_codebook",
          "neuralflow: scale the encoder's latents and the codes to norm sqrt(d_latent) before the nearest-code "
          "search, so the nearest code is the most cosine-similar (Yu et al. 2022, improved VQGAN); it keeps far "
          "more codes in use (docs/benchmarks.md). false: the guide's plain euclidean VQ.");
  s.field(section, &ModelConfig::max_paragraph_len, "model.max_paragraph_len",
          "neuralflow: tokens of a paragraph, its <|eos|> included; longer paragraphs are cut to it (keeping the "
          "<|eos|>).")
      .at_least(2);
  s.field(section, &ModelConfig::max_paragraphs, "model.max_paragraphs",
          "neuralflow: paragraphs of a sequence record the model reads, `next` included (the last ones).")
      .at_least(2);
  s.field(section, &ModelConfig::max_ponder_steps, "model.max_ponder_steps",
          "neuralflow: the most thinking steps (adaptive computation time) per paragraph.")
      .at_least(1);
  s.field(section, &ModelConfig::mamba_d_state, "model.mamba_d_state",
          "neuralflow, brain_type mamba: the selective scan's state size per channel.")
      .at_least(1);
  s.field(section, &ModelConfig::emotions, "model.emotions",
          "neuralflow: the emotion labels of the data's `emotion` field, in id order; the first is that of "
          "unlabelled text.");
}

template <class Root>
void declare_model_keys(config::Schema<Root>& s, ModelConfig Root::*section) {
  s.enum_field(section, &ModelConfig::arch, "model.arch",
               "The network: llama (the decoder-only language model) or neuralflow (the paragraph-latent model of "
               "docs/neuralflow.md: encoder, codebook, brain, decoder).",
               architecture_names());
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
  declare_neuralflow_keys(s, section);
}

}  // namespace nf::model
