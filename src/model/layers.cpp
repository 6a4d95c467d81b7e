// The decoder's building blocks (layers.h), following Hugging Face's LlamaForCausalLM math.
#include "nf/model/layers.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <cmath>

#include "nf/model/recompute.h"
#include "nf/parallel/tp/mappings.h"

namespace nf::model {
namespace {

// HF's rotate_half: (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope) {
  const torch::Tensor cos = rope.cos.to(x.dtype()), sin = rope.sin.to(x.dtype());
  return x * cos + rotate_half(x) * sin;
}

// [batch, kv_heads, seq, head_dim] -> [batch, kv_heads * n_rep, seq, head_dim], each kv head
// repeated n_rep times in place (HF's repeat_kv), so query head h meets kv head h / n_rep.
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto b = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, kv, n_rep, t, d}).reshape({b, kv * n_rep, t, d});
}

// Softmax(q kᵀ / sqrt(head_dim) + mask) v: the causal mask through the fused kernel (is_causal),
// or an explicit boolean mask.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask) {
  const bool causal = !mask.defined();
  const std::optional<torch::Tensor> attn_mask = causal ? std::nullopt : std::optional<torch::Tensor>(mask);
  return at::scaled_dot_product_attention(q, k, v, attn_mask, /*dropout_p=*/0.0, causal);
}

// Gives projection `name` its adapters when model.lora targets it (called once every projection is
// registered, so that the base weights keep Hugging Face's order and each pair follows its weight).
template <class Linear>
void add_lora(const ModelConfig& config, const char* name, Linear& layer) {
  if (config.lora.targets(name)) layer->add_lora(config.lora.rank, config.lora.scale());
}

}  // namespace

torch::Tensor document_attention_mask(const torch::Tensor& document_ids) {
  const int64_t seq = document_ids.size(1);
  const torch::Tensor same = document_ids.unsqueeze(2) == document_ids.unsqueeze(1);  // [batch, query, key]
  const torch::Tensor causal = torch::ones({seq, seq}, document_ids.options().dtype(torch::kBool)).tril();
  return (same & causal).unsqueeze(1);
}

torch::Tensor column_parallel_input(const torch::Tensor& hidden, const TensorParallel& tp) {
  if (tp.comm == nullptr) return hidden;
  return tp.sequence_parallel ? parallel::tp::gather_sequence(hidden, *tp.comm)
                              : parallel::tp::copy_to_tp(hidden, *tp.comm);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps, const TensorParallel& tp)
    : weight(register_parameter("weight", torch::empty({dim}, torch::kFloat))), eps_(eps), tp_(tp) {}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& input) {
  const torch::Tensor x = input.to(torch::kFloat);
  const torch::Tensor normalized = x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  // Under sequence parallelism each tp rank scales only its own positions, so its weight gradient is
  // a partial sum. copy_to_tp all-reduces it in backward: every tp rank then accumulates the whole,
  // identical gradient, as without sequence parallelism, before the dp reduction (overlapped or
  // not), ZeRO and the gradient norm (which counts it once per tp group) ever read it.
  const torch::Tensor scale = tp_.splits_sequence() ? parallel::tp::copy_to_tp(weight, *tp_.comm) : weight;
  return scale * normalized.to(input.scalar_type());
}

RopeTables rope_tables(int64_t head_dim, double theta, int64_t seq_len, const torch::Device& device) {
  const auto fp32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const torch::Tensor exponents = torch::arange(0, head_dim, 2, fp32) / static_cast<double>(head_dim);
  const torch::Tensor inv_freq = 1.0 / torch::pow(theta, exponents);
  const torch::Tensor freqs = torch::outer(torch::arange(seq_len, fp32), inv_freq);
  const torch::Tensor angles = torch::cat({freqs, freqs}, -1);
  return {angles.cos(), angles.sin()};
}

AttentionImpl::AttentionImpl(const ModelConfig& config, const TensorParallel& tp)
    : tp_(tp),
      n_heads_(config.n_heads / tp.size()),
      n_kv_heads_(config.kv_heads() / tp.size()),
      head_dim_(config.head_dim()) {
  const int64_t d = config.d_model, q_width = config.n_heads * head_dim_, kv_width = config.kv_heads() * head_dim_;
  // Contiguous row blocks of q and k/v are whole heads, and rank r's query heads
  // [r·n_heads/tp, ...) read exactly its kv heads [r·n_kv_heads/tp, ...): GQA stays local.
  q_proj_ = register_module("q_proj", parallel::tp::ColumnParallelLinear(d, q_width, tp.comm));
  k_proj_ = register_module("k_proj", parallel::tp::ColumnParallelLinear(d, kv_width, tp.comm));
  v_proj_ = register_module("v_proj", parallel::tp::ColumnParallelLinear(d, kv_width, tp.comm));
  o_proj_ = register_module("o_proj", parallel::tp::RowParallelLinear(q_width, d, tp.comm, tp.sequence_parallel));
  add_lora(config, "q_proj", q_proj_);
  add_lora(config, "k_proj", k_proj_);
  add_lora(config, "v_proj", v_proj_);
  add_lora(config, "o_proj", o_proj_);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& hidden, const RopeTables& rope, const torch::Tensor& mask,
                                     bool recompute_core, LayerKv* cache) {
  // Under sequence parallelism x is the whole sequence gathered from the tp ranks' shards, so the
  // projections, RoPE (global positions) and causal attention see every position, as unsplit.
  const torch::Tensor x = column_parallel_input(hidden, tp_);
  const int64_t batch = x.size(0), seq = x.size(1);
  // [batch, seq, heads * head_dim] -> [batch, heads, seq, head_dim]
  const auto split_heads = [&](const torch::Tensor& projected, int64_t heads) {
    return projected.view({batch, seq, heads, head_dim_}).transpose(1, 2);
  };
  const torch::Tensor q = apply_rope(split_heads(q_proj_->forward_copied(x), n_heads_), rope);
  torch::Tensor k = apply_rope(split_heads(k_proj_->forward_copied(x), n_kv_heads_), rope);
  torch::Tensor v = split_heads(v_proj_->forward_copied(x), n_kv_heads_);
  if (cache != nullptr) {
    if (cache->key.defined()) k = torch::cat({cache->key, k}, 2), v = torch::cat({cache->value, v}, 2);
    cache->key = k, cache->value = v;
  }
  const int64_t n_rep = n_heads_ / n_kv_heads_;
  const auto core = [n_rep, mask](const std::vector<torch::Tensor>& qkv) {
    return attention(qkv[0], repeat_kv(qkv[1], n_rep), repeat_kv(qkv[2], n_rep), mask);
  };
  const torch::Tensor context = recompute_core ? recomputed(core, {q, k, v}) : core({q, k, v});
  return o_proj_(context.transpose(1, 2).reshape({batch, seq, n_heads_ * head_dim_}));
}

MlpImpl::MlpImpl(const ModelConfig& config, const TensorParallel& tp) : tp_(tp) {
  const int64_t d = config.d_model, hidden = config.ffn_dim();
  gate_proj_ = register_module("gate_proj", parallel::tp::ColumnParallelLinear(d, hidden, tp.comm));
  up_proj_ = register_module("up_proj", parallel::tp::ColumnParallelLinear(d, hidden, tp.comm));
  down_proj_ = register_module("down_proj", parallel::tp::RowParallelLinear(hidden, d, tp.comm, tp.sequence_parallel));
  add_lora(config, "gate_proj", gate_proj_);
  add_lora(config, "up_proj", up_proj_);
  add_lora(config, "down_proj", down_proj_);
}

torch::Tensor MlpImpl::forward(const torch::Tensor& hidden) {
  const torch::Tensor x = column_parallel_input(hidden, tp_);
  return down_proj_(at::silu(gate_proj_->forward_copied(x)) * up_proj_->forward_copied(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config, const TensorParallel& tp) {
  // Registration order sets the parameter order; it follows HF's module order.
  self_attn_ = register_module("self_attn", Attention(config, tp));
  mlp_ = register_module("mlp", Mlp(config, tp));
  input_layernorm_ = register_module("input_layernorm", RMSNorm(config.d_model, config.norm_eps, tp));
  post_attention_layernorm_ = register_module("post_attention_layernorm", RMSNorm(config.d_model, config.norm_eps, tp));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& hidden, const RopeTables& rope, const torch::Tensor& mask,
                                        bool recompute_attention_core, LayerKv* cache) {
  const torch::Tensor h = hidden + self_attn_(input_layernorm_(hidden), rope, mask, recompute_attention_core, cache);
  return h + mlp_(post_attention_layernorm_(h));
}

}  // namespace nf::model
