// The one table of how a Hugging Face LlamaConfig (config.json) and nf's model config correspond:
// export writes its keys from it (hf_export.h), import checks a config.json against the job with
// it (hf_import.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nf/model/model_config.h"

namespace nf::ckpt {

struct HfConfigKey {
  const char* hf_key;  // config.json's key
  const char* nf_key;  // the model key it reads, or the keys it follows from
  nlohmann::json (*value)(const model::ModelConfig& config);
  // How import treats it: kMustMatch = the job's value or a CheckpointError naming both keys;
  // kVocabulary = at most the job's model.vocab_size (a padded vocabulary); kExportOnly = not checked.
  enum Check { kMustMatch, kVocabulary, kExportOnly } check;
  nlohmann::json llama_default;  // LlamaConfig's value when config.json omits the key; null = required
};

// In config.json's order: hidden_size, intermediate_size, num_attention_heads, num_key_value_heads,
// num_hidden_layers, head_dim, rms_norm_eps, rope_theta, vocab_size, max_position_embeddings,
// tie_word_embeddings, initializer_range.
const std::vector<HfConfigKey>& hf_config_keys();

}  // namespace nf::ckpt
