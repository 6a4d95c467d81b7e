// config.json <-> nf model keys (hf_config.h).
#include "nf/ckpt/hf_config.h"

namespace nf::ckpt {

const std::vector<HfConfigKey>& hf_config_keys() {
  using M = model::ModelConfig;
  using Json = nlohmann::json;
  static const std::vector<HfConfigKey> keys = {
      {"hidden_size", "model.d_model", [](const M& c) { return Json(c.d_model); }, HfConfigKey::kMustMatch, nullptr},
      {"intermediate_size", "model.ffn_hidden", [](const M& c) { return Json(c.ffn_dim()); }, HfConfigKey::kMustMatch,
       nullptr},
      {"num_attention_heads", "model.n_heads", [](const M& c) { return Json(c.n_heads); }, HfConfigKey::kMustMatch,
       nullptr},
      // LlamaConfig's default is num_attention_heads: import fills it in before comparing.
      {"num_key_value_heads", "model.n_kv_heads", [](const M& c) { return Json(c.kv_heads()); },
       HfConfigKey::kMustMatch, nullptr},
      {"num_hidden_layers", "model.n_layers", [](const M& c) { return Json(c.n_layers); }, HfConfigKey::kMustMatch,
       nullptr},
      {"head_dim", "model.d_model / model.n_heads", [](const M& c) { return Json(c.head_dim()); },
       HfConfigKey::kExportOnly, nullptr},
      {"rms_norm_eps", "model.norm_eps", [](const M& c) { return Json(c.norm_eps); }, HfConfigKey::kMustMatch, 1e-6},
      {"rope_theta", "model.rope_theta", [](const M& c) { return Json(c.rope_theta); }, HfConfigKey::kMustMatch,
       10000.0},
      {"vocab_size", "model.vocab_size", [](const M& c) { return Json(c.vocab_size); }, HfConfigKey::kVocabulary,
       nullptr},
      {"max_position_embeddings", "model.max_seq_len", [](const M& c) { return Json(c.max_seq_len); },
       HfConfigKey::kExportOnly, nullptr},
      {"tie_word_embeddings", "model.tie_embeddings", [](const M& c) { return Json(c.tie_embeddings); },
       HfConfigKey::kMustMatch, false},
      {"initializer_range", "model.init_std", [](const M& c) { return Json(c.init_std); }, HfConfigKey::kExportOnly,
       nullptr},
  };
  return keys;
}

}  // namespace nf::ckpt
