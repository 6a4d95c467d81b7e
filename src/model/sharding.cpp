// Per-parameter tensor-parallel layout of the Llama decoder (sharding.h).
#include "nf/model/sharding.h"

#include <optional>
#include <regex>

#include "nf/core/error.h"
#include "nf/model/paragraph_table.h"

namespace nf::model {
namespace {

enum class Split { kReplicated, kColumn, kRow, kVocab };

struct Layout {
  std::vector<int64_t> full_shape;
  Split split;
};

// The Llama projection `part` of a layer ("self_attn.q_proj", ...), or nullopt.
std::optional<Layout> projection_layout(const ModelConfig& c, const std::string& part) {
  const int64_t d = c.d_model, q_width = c.n_heads * c.head_dim(), kv_width = c.kv_heads() * c.head_dim();
  if (part == "self_attn.q_proj") return Layout{{q_width, d}, Split::kColumn};
  if (part == "self_attn.k_proj" || part == "self_attn.v_proj") return Layout{{kv_width, d}, Split::kColumn};
  if (part == "self_attn.o_proj") return Layout{{d, q_width}, Split::kRow};
  if (part == "mlp.gate_proj" || part == "mlp.up_proj") return Layout{{c.ffn_dim(), d}, Split::kColumn};
  if (part == "mlp.down_proj") return Layout{{d, c.ffn_dim()}, Split::kRow};
  return std::nullopt;
}

// A LoRA factor of a projection [out, in]: A [rank, in], B [out, rank]. Beside a column-parallel
// weight (rows split) A is whole and B split by rows; beside a row-parallel one (columns split) A is
// split by columns and B whole (docs/lora.md).
Layout lora_layout(const ModelConfig& c, const Layout& base, bool a) {
  const int64_t out = base.full_shape[0], in = base.full_shape[1], rank = c.lora.rank;
  if (a) return {{rank, in}, base.split == Split::kRow ? Split::kRow : Split::kReplicated};
  return {{out, rank}, base.split == Split::kColumn ? Split::kColumn : Split::kReplicated};
}

// The NeuralFlow model's parameters are whole on every rank (it trains on data parallelism).
Layout paragraph_layout_of(const ModelConfig& c, const std::string& name) {
  for (auto& [known, shape] : paragraph_parameter_table(c)) {
    if (known == name) return {std::move(shape), Split::kReplicated};
  }
  NF_CHECK(false, UsageError, "the neuralflow model has no parameter '", name, "'");
  return {};
}

Layout layout_of(const ModelConfig& c, const std::string& name) {
  if (c.neuralflow()) return paragraph_layout_of(c, name);
  const int64_t d = c.d_model;
  if (name == "model.embed_tokens.weight" || (name == "lm_head.weight" && !c.tie_embeddings)) {
    return {{c.vocab_size, d}, Split::kVocab};
  }
  if (name == "model.norm.weight") return {{d}, Split::kReplicated};
  static const std::regex layer_pattern(R"(model\.layers\.(\d+)\.(.+?)(\.lora_[AB])?\.weight)");
  std::smatch match;
  if (std::regex_match(name, match, layer_pattern) && std::stoll(match[1]) < c.n_layers) {
    const std::string part = match[2];
    if (part == "input_layernorm" || part == "post_attention_layernorm") {
      if (!match[3].matched) return {{d}, Split::kReplicated};
    } else if (const std::optional<Layout> base = projection_layout(c, part)) {
      if (!match[3].matched) return *base;
      if (c.lora.targets(part.substr(part.find('.') + 1))) return lora_layout(c, *base, match[3] == ".lora_A");
    }
  }
  NF_CHECK(false, UsageError, "the model has no parameter '", name, "' (", c.n_layers, " layers, tie_embeddings ",
           c.tie_embeddings ? "true" : "false", ", LoRA rank ", c.lora.rank, ")");
  return {};
}

}  // namespace

std::vector<ParameterInfo> parameter_table(const ModelConfig& config) {
  if (config.neuralflow()) {
    std::vector<ParameterInfo> table;
    for (auto& [name, shape] : paragraph_parameter_table(config)) table.push_back({std::move(name), std::move(shape)});
    return table;
  }
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (int64_t i = 0; i < config.n_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    for (const char* part :
         {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
          "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm"}) {
      names.push_back(layer + part + ".weight");
    }
  }
  names.push_back("model.norm.weight");
  if (!config.tie_embeddings) names.push_back("lm_head.weight");
  std::vector<ParameterInfo> table;
  for (std::string& name : names) {
    std::vector<int64_t> shape = layout_of(config, name).full_shape;
    table.push_back({std::move(name), std::move(shape)});
  }
  return table;
}

std::vector<ParameterInfo> lora_table(const ModelConfig& config) {
  std::vector<ParameterInfo> table;
  // Beside each targeted projection of the base, in its order: "model.layers.N.<block>.<module>.weight".
  for (const ParameterInfo& base : parameter_table(config)) {
    const std::string projection = base.name.substr(0, base.name.size() - std::string(".weight").size());
    if (!config.lora.targets(projection.substr(projection.rfind('.') + 1))) continue;
    for (const char* factor : {".lora_A.weight", ".lora_B.weight"}) {
      std::string name = projection + factor;
      std::vector<int64_t> shape = layout_of(config, name).full_shape;
      table.push_back({std::move(name), std::move(shape)});
    }
  }
  return table;
}

std::vector<ParameterInfo> trainable_table(const ModelConfig& config) {
  return config.lora.enabled() ? lora_table(config) : parameter_table(config);
}

bool is_lora_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

std::vector<int64_t> full_shape_of(const ModelConfig& config, const std::string& name) {
  return layout_of(config, name).full_shape;
}

parallel::tp::ShardSpec shard_spec_of(const ModelConfig& config, const std::string& name,
                                      const dist::Communicator* tp) {
  const Layout layout = layout_of(config, name);
  switch (layout.split) {
    case Split::kColumn:
      return parallel::tp::split_spec(0, layout.full_shape[0], tp, /*pad=*/false);
    case Split::kRow:
      return parallel::tp::split_spec(1, layout.full_shape[1], tp, /*pad=*/false);
    case Split::kVocab:
      return parallel::tp::split_spec(0, layout.full_shape[0], tp, /*pad=*/true);
    case Split::kReplicated:
      break;
  }
  parallel::tp::ShardSpec replicated;
  replicated.index = tp ? tp->rank() : 0;
  replicated.count = tp ? tp->size() : 1;
  return replicated;
}

void validate_tensor_parallel(const ModelConfig& c, int64_t tp) {
  NF_CHECK(tp >= 1, ConfigError, "parallel.tp (", tp, ") must be at least 1");
  NF_CHECK(!c.neuralflow() || tp == 1, ConfigError, "parallel.tp is ", tp,
           ", but model.arch neuralflow trains on data parallelism only (its blocks are small, and its brain is "
           "a recurrence): set parallel.tp 1 and use the ranks for dp");
  const auto check = [tp](int64_t value, const char* key) {
    NF_CHECK(value % tp == 0, ConfigError, key, " (", value, ") must be divisible by parallel.tp (", tp,
             "): tensor parallelism gives every rank the same number of whole ",
             std::string(key) == "model.ffn_hidden" ? "MLP rows" : "heads", "; pick a parallel.tp that divides it");
  };
  check(c.n_heads, "model.n_heads");
  check(c.kv_heads(), "model.n_kv_heads");
  check(c.ffn_dim(), "model.ffn_hidden");
}

}  // namespace nf::model
