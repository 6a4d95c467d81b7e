// Parameter counting and cross-field validation of the model hyperparameters.
#include "nf/model/model_config.h"

#include <algorithm>
#include <set>

#include "nf/core/error.h"
#include "nf/model/paragraph_table.h"

namespace nf::model {

const std::vector<std::pair<std::string, Architecture>>& architecture_names() {
  static const std::vector<std::pair<std::string, Architecture>> names = {{"llama", Architecture::kLlama},
                                                                          {"neuralflow", Architecture::kNeuralFlow}};
  return names;
}

const std::vector<std::pair<std::string, BrainType>>& brain_type_names() {
  static const std::vector<std::pair<std::string, BrainType>> names = {{"mamba", BrainType::kMamba},
                                                                       {"gru", BrainType::kGru}};
  return names;
}

std::string name_of(BrainType brain) { return brain == BrainType::kGru ? "gru" : "mamba"; }

int64_t count_parameters(const ModelConfig& c) {
  if (c.neuralflow()) {
    int64_t count = 0;
    for (const auto& [name, shape] : paragraph_parameter_table(c)) {
      int64_t numel = 1;
      for (const int64_t size : shape) numel *= size;
      count += numel;
    }
    return count;
  }
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

namespace {

// model.arch neuralflow: its paragraphs fit the decoder, its emotion labels are distinct, and it
// has no LoRA.
void validate_neuralflow(const ModelConfig& c) {
  NF_CHECK(c.max_paragraph_len <= c.max_seq_len, ConfigError, "model.max_paragraph_len (", c.max_paragraph_len,
           ") exceeds model.max_seq_len (", c.max_seq_len,
           "): the decoder reads a paragraph's latent and tokens as one sequence of that many positions");
  NF_CHECK(!c.emotions.empty(), ConfigError,
           "model.emotions is empty: list the emotion labels, the first being the one of unlabelled text "
           "(default [neutral, happy, sad, angry])");
  std::set<std::string> seen;
  for (const std::string& label : c.emotions) {
    NF_CHECK(!label.empty() && seen.insert(label).second, ConfigError, "model.emotions: '", label,
             "' is empty or listed twice; each label must be a distinct non-empty string");
  }
  NF_CHECK(!c.lora.enabled(), ConfigError,
           "model.lora adapts the Llama decoder's projections; model.arch neuralflow has no LoRA: set "
           "model.lora.rank 0");
}

}  // namespace

void validate(const ModelConfig& c) {
  NF_CHECK(c.d_model % c.n_heads == 0, ConfigError, "model.d_model (", c.d_model,
           ") must be divisible by model.n_heads (", c.n_heads, ")");
  NF_CHECK(c.n_heads % c.kv_heads() == 0, ConfigError, "model.n_heads (", c.n_heads,
           ") must be divisible by model.n_kv_heads (", c.kv_heads(), ")");
  NF_CHECK(c.head_dim() % 2 == 0, ConfigError, "model.d_model / model.n_heads = ", c.head_dim(),
           " must be even for rotary embeddings");
  if (c.neuralflow()) return validate_neuralflow(c);
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
