// Parameter counting and cross-field validation of the model hyperparameters.
#include "nf/model/model_config.h"

#include <algorithm>

#include "nf/core/error.h"

namespace nf::model {

int64_t count_parameters(const ModelConfig& c) {
  const int64_t d = c.d_model, kv_width = c.kv_heads() * c.head_dim();
  const int64_t attention = d * d /*q*/ + 2 * d * kv_width /*k, v*/ + d * d /*o*/;
  const int64_t mlp = 3 * d * c.ffn_dim();
  const int64_t per_layer = attention + mlp + 2 * d /*input and post-attention norms*/;
  const int64_t embedding = c.vocab_size * d;
  return embedding + c.n_layers * per_layer + d /*final norm*/ + (c.tie_embeddings ? 0 : embedding);
}

const std::vector<std::string>& lora_module_names() {
  static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

bool LoraConfig::targets(const std::string& module) const {
  return enabled() && std::find(target_modules.begin(), target_modules.end(), module) != target_modules.end();
}

void validate(const ModelConfig& c) {
  NF_CHECK(c.d_model % c.n_heads == 0, ConfigError, "model.d_model (", c.d_model,
           ") must be divisible by model.n_heads (", c.n_heads, ")");
  NF_CHECK(c.n_heads % c.kv_heads() == 0, ConfigError, "model.n_heads (", c.n_heads,
           ") must be divisible by model.n_kv_heads (", c.kv_heads(), ")");
  NF_CHECK(c.head_dim() % 2 == 0, ConfigError, "model.d_model / model.n_heads = ", c.head_dim(),
           " must be even for rotary embeddings");
  if (!c.lora.enabled()) return;
  const std::vector<std::string>& known = lora_module_names();
  NF_CHECK(!c.lora.target_modules.empty(), ConfigError,
           "model.lora.target_modules is empty: name the projections to "
           "adapt, e.g. [q_proj, v_proj]");
  for (const std::string& target : c.lora.target_modules) {
    if (std::find(known.begin(), known.end(), target) != known.end()) continue;
    std::string choices;
    for (const std::string& name : known) choices += (choices.empty() ? "" : ", ") + name;
    throw ConfigError("model.lora.target_modules: '" + target + "' matches no module of the model",
                      "the Llama projections are " + choices);
  }
  NF_CHECK(c.lora.alpha > 0, ConfigError, "model.lora.alpha (", c.lora.alpha, ") must be positive");
  NF_CHECK(c.lora.dropout == 0.0, ConfigError, "model.lora.dropout is ", c.lora.dropout,
           ", but nf's LoRA applies no dropout (its masks would depend on the layout, and every layout must "
           "reproduce one rank's losses): set model.lora.dropout 0");
}

}  // namespace nf::model
