// The NeuralFlow model's parameter table and ZeRO-3 units (paragraph_table.h).
#include "nf/model/paragraph_table.h"

namespace nf::model {
namespace {

using Table = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// One transformer block of the decoder's (layers.h), HF-named under `prefix`.
void add_block(Table& table, const ModelConfig& c, const std::string& prefix) {
  const int64_t d = c.d_model, q = c.n_heads * c.head_dim(), kv = c.kv_heads() * c.head_dim(), ffn = c.ffn_dim();
  table.push_back({prefix + "self_attn.q_proj.weight", {q, d}});
  table.push_back({prefix + "self_attn.k_proj.weight", {kv, d}});
  table.push_back({prefix + "self_attn.v_proj.weight", {kv, d}});
  table.push_back({prefix + "self_attn.o_proj.weight", {d, q}});
  table.push_back({prefix + "mlp.gate_proj.weight", {ffn, d}});
  table.push_back({prefix + "mlp.up_proj.weight", {ffn, d}});
  table.push_back({prefix + "mlp.down_proj.weight", {d, ffn}});
  table.push_back({prefix + "input_layernorm.weight", {d}});
  table.push_back({prefix + "post_attention_layernorm.weight", {d}});
}

// One brain layer's sequence mixer: torch.nn.GRU's names, or mamba-ssm's Mamba (its own
// parameters before its submodules', as torch registers them).
void add_mixer(Table& table, const ModelConfig& c, const std::string& prefix) {
  const int64_t d = c.d_model;
  if (c.brain_type == BrainType::kGru) {
    table.push_back({prefix + "gru.weight_ih", {3 * d, d}});
    table.push_back({prefix + "gru.weight_hh", {3 * d, d}});
    table.push_back({prefix + "gru.bias_ih", {3 * d}});
    table.push_back({prefix + "gru.bias_hh", {3 * d}});
    return;
  }
  const int64_t inner = mamba_inner(c), rank = mamba_dt_rank(c), state = c.mamba_d_state;
  table.push_back({prefix + "mamba.A_log", {inner, state}});
  table.push_back({prefix + "mamba.D", {inner}});
  table.push_back({prefix + "mamba.in_proj.weight", {2 * inner, d}});
  table.push_back({prefix + "mamba.conv1d.weight", {inner, 1, kMambaConvWidth}});
  table.push_back({prefix + "mamba.conv1d.bias", {inner}});
  table.push_back({prefix + "mamba.x_proj.weight", {rank + 2 * state, inner}});
  table.push_back({prefix + "mamba.dt_proj.weight", {inner, rank}});
  table.push_back({prefix + "mamba.dt_proj.bias", {inner}});
  table.push_back({prefix + "mamba.out_proj.weight", {d, inner}});
}

}  // namespace

int64_t mamba_inner(const ModelConfig& config) { return 2 * config.d_model; }
int64_t mamba_dt_rank(const ModelConfig& config) { return (config.d_model + 15) / 16; }

Table paragraph_parameter_table(const ModelConfig& c) {
  const int64_t d = c.d_model, latent = c.d_latent, codes = c.codebook_size;
  Table table;
  table.push_back({"encoder.embed_tokens.weight", {c.vocab_size, d}});
  for (int64_t i = 0; i < c.n_layers; ++i) add_block(table, c, "encoder.layers." + std::to_string(i) + ".");
  table.push_back({"encoder.norm.weight", {d}});
  table.push_back({"encoder.to_latent.weight", {latent, d}});
  table.push_back({"quantizer.codebook", {codes, latent}});
  table.push_back({"quantizer.ema_count", {codes}});
  table.push_back({"quantizer.ema_sum", {codes, latent}});
  table.push_back({"brain.in_proj.weight", {d, latent}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string prefix = "brain.layers." + std::to_string(i) + ".";
    table.push_back({prefix + "norm.weight", {d}});
    add_mixer(table, c, prefix);
  }
  table.push_back({"brain.norm.weight", {d}});
  table.push_back({"brain.ponder.cell.weight", {d, d}});
  table.push_back({"brain.ponder.cell.bias", {d}});
  table.push_back({"brain.ponder.halt.weight", {1, d}});
  table.push_back({"brain.ponder.halt.bias", {1}});
  table.push_back({"brain.out_proj.weight", {latent, d}});
  table.push_back({"emotion.weight", {static_cast<int64_t>(c.emotions.size()), d}});
  table.push_back({"decoder.embed_tokens.weight", {c.vocab_size, d}});
  table.push_back({"decoder.from_latent.weight", {d, latent}});
  for (int64_t i = 0; i < c.n_layers; ++i) add_block(table, c, "decoder.layers." + std::to_string(i) + ".");
  table.push_back({"decoder.norm.weight", {d}});
  table.push_back({"decoder.lm_head.weight", {c.vocab_size, d}});
  table.push_back({"decoder.lm_head.bias", {c.vocab_size}});
  return table;
}

std::string paragraph_unit_of(const std::string& name) {
  for (const char* stack : {"encoder", "decoder"}) {
    const std::string prefix = std::string(stack) + ".layers.";
    if (name.rfind(prefix, 0) == 0) {
      return std::string(stack) + ".layer." + name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size());
    }
  }
  // The parameters before a stack's blocks and those after them: each run adjacent, as ZeRO 3's
  // flat layout wants a unit.
  for (const char* input : {"encoder.embed_tokens.", "decoder.embed_tokens.", "decoder.from_latent."}) {
    if (name.rfind(input, 0) == 0) return name.substr(0, name.find('.')) + ".input";
  }
  for (const char* output : {"encoder.", "decoder."}) {
    if (name.rfind(output, 0) == 0) return name.substr(0, name.find('.')) + ".output";
  }
  return name.substr(0, name.find('.'));
}

std::set<std::string> paragraph_pinned_units() {
  return {"encoder.input", "encoder.output", "quantizer", "brain", "emotion", "decoder.input", "decoder.output"};
}

}  // namespace nf::model
