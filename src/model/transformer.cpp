// The decoder-only language model (transformer.h) and its name-based initialization.
#include "nf/model/transformer.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "nf/core/error.h"

namespace nf::model {

DecoderStackImpl::DecoderStackImpl(const ModelConfig& config, const TensorParallel& tp, const StagePart& part) {
  if (part.embedding) {
    embed_tokens = register_module(
        "embed_tokens",
        parallel::tp::VocabParallelEmbedding(config.vocab_size, config.d_model, tp.comm, tp.sequence_parallel));
  }
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> held;
  for (int64_t i = part.first_layer; i < part.first_layer + part.n_layers; ++i) {
    held.emplace_back(std::to_string(i), DecoderLayer(config, tp).ptr());
  }
  layers = register_module("layers", torch::nn::ModuleDict(held));
  if (part.head) norm = register_module("norm", RMSNorm(config.d_model, config.norm_eps, tp));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config, const TensorParallel& tp, StagePart part)
    : config_(config), tp_(tp), part_(part) {
  validate(config_);
  validate_tensor_parallel(config_, tp_.size());
  if (part_.n_layers < 0) part_.n_layers = config_.n_layers - part_.first_layer;
  NF_CHECK(part_.first_layer >= 0 && part_.first_layer + part_.n_layers <= config_.n_layers, UsageError,
           "stage layers [", part_.first_layer, ", ", part_.first_layer + part_.n_layers, ") are outside the model's ",
           config_.n_layers, " layers");
  model = register_module("model", DecoderStack(config_, tp_, part_));
  // Tied: no lm_head parameter at all (HF lists the shared tensor once, as the embedding). Its rows
  // are the padded vocabulary, split like the embedding's.
  const std::vector<int64_t> head_shape =
      parallel::tp::shard_shape(full_shape_of("model.embed_tokens.weight"), shard_spec_of("model.embed_tokens.weight"));
  if (part_.head && !config_.tie_embeddings) {
    const int64_t rows = shard_spec_of("lm_head.weight").padded_full_size;
    lm_head_ = register_module("lm_head", parallel::tp::ColumnParallelLinear(config_.d_model, rows, tp_.comm));
  } else if (part_.head && !part_.embedding) {
    // A buffer, so Module::to moves it; never a parameter, so the optimizer and checkpoints skip it.
    tied_output_weight_ =
        register_buffer("tied_output_weight", torch::empty(head_shape, torch::kFloat).requires_grad_(!has_lora()));
  }
  for (auto& [name, parameter] : model::named_parameters(*this)) {
    // The layers chose their shapes; sharding.h is the contract checkpoints rely on. They must agree.
    const auto expected = parallel::tp::shard_shape(full_shape_of(name), shard_spec_of(name));
    NF_CHECK(parameter.sizes() == c10::IntArrayRef(expected), UsageError, "parameter '", name, "' has shape ",
             parameter.sizes(), " but sharding.h gives ", c10::IntArrayRef(expected));
    if (has_lora() && !is_lora_parameter(name)) parameter.requires_grad_(false);  // LoRA: the base is frozen
  }
}

torch::Tensor CausalLMImpl::embed(const torch::Tensor& tokens) {
  NF_CHECK(part_.embedding, UsageError, "embed(): this pipeline stage does not hold the embedding");
  return in_unit("embed", [&] { return model->embed_tokens(tokens); });
}

torch::Tensor CausalLMImpl::forward_layers(const torch::Tensor& hidden, int64_t begin, int64_t end,
                                           const torch::Tensor& document_ids) {
  NF_CHECK(part_.first_layer <= begin && begin <= end && end <= part_.first_layer + part_.n_layers, UsageError,
           "layer range [", begin, ", ", end, ") is outside the layers this stage holds [", part_.first_layer, ", ",
           part_.first_layer + part_.n_layers, ")");
  // Under sequence parallelism `hidden` holds this rank's positions, but attention gathers the
  // whole sequence before RoPE: the tables cover every position.
  const int64_t seq = hidden.size(1) * (tp_.splits_sequence() ? tp_.size() : 1);
  NF_CHECK(seq <= config_.max_seq_len, UsageError, "sequence length ", seq, " exceeds model.max_seq_len (",
           config_.max_seq_len, ")");
  const RopeTables rope = rope_tables(config_.head_dim(), config_.rope_theta, seq, hidden.device());
  NF_CHECK(!document_ids.defined() || (document_ids.dim() == 2 && document_ids.size(1) == seq), UsageError,
           "document ids of shape ", document_ids.sizes(), " for a sequence of ", seq);
  const torch::Tensor mask = document_ids.defined() ? document_attention_mask(document_ids) : torch::Tensor();
  torch::Tensor x = hidden;
  for (int64_t i = begin; i < end; ++i) {
    DecoderLayerImpl& layer = model->layers->at<DecoderLayerImpl>(std::to_string(i));
    x = in_unit("layer." + std::to_string(i), [&] {
      if (!recompute_.full_block(i)) return layer.forward(x, rope, mask, recompute_.attention_core());
      return recomputed(
          [&layer, rope, mask](const std::vector<torch::Tensor>& in) { return layer.forward(in[0], rope, mask); }, {x});
    });
  }
  return x;
}

torch::Tensor CausalLMImpl::head(const torch::Tensor& hidden) {
  NF_CHECK(part_.head, UsageError, "head(): this pipeline stage does not hold the final norm and output layer");
  // Column-parallel over the vocabulary: the input's gradient is summed over tp (under sequence
  // parallelism the norm ran on this rank's positions, and the whole sequence is gathered here).
  return in_unit("head", [&] { return at::linear(column_parallel_input(model->norm(hidden), tp_), output_weight()); });
}

torch::Tensor CausalLMImpl::in_unit(const std::string& unit, const std::function<torch::Tensor()>& run) {
  if (unit_hooks_ == nullptr) return run();
  unit_hooks_->before_forward(unit);
  torch::Tensor output = run();
  unit_hooks_->after_forward(unit, output);
  return output;
}

LossSum CausalLMImpl::loss(const torch::Tensor& logits, const torch::Tensor& targets,
                           const std::optional<torch::Tensor>& loss_mask) {
  if (tp_.size() == 1) return cross_entropy_sum(logits, targets, loss_mask);
  return vocab_parallel_cross_entropy_sum(logits, targets, config_.vocab_size, *tp_.comm, loss_mask);
}

torch::Tensor CausalLMImpl::sequence_log_probs(const torch::Tensor& logits, const torch::Tensor& targets,
                                               const torch::Tensor& loss_mask) {
  if (tp_.size() == 1) return model::sequence_log_probs(logits, targets, loss_mask);
  return vocab_parallel_sequence_log_probs(logits, targets, config_.vocab_size, *tp_.comm, loss_mask);
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& tokens, const torch::Tensor& document_ids) {
  return head(forward_layers(embed(tokens), 0, config_.n_layers, document_ids));
}

torch::Tensor CausalLMImpl::forward_cached(const torch::Tensor& tokens, const torch::Tensor& present, KvCache& cache,
                                           bool every_position) {
  NF_CHECK(part_.embedding && part_.head && part_.first_layer == 0 && part_.n_layers == config_.n_layers, UsageError,
           "generation runs the whole model; this one holds a pipeline stage's part");
  NF_CHECK(!tp_.splits_sequence(), UsageError, "generation runs without sequence parallelism");
  NF_CHECK(tokens.dim() == 2 && present.sizes() == tokens.sizes(), UsageError, "forward_cached: tokens ",
           tokens.sizes(), " and present ", present.sizes(), " must both be [batch, seq]");
  const int64_t past = cache.length(), seq = tokens.size(1), total = past + seq;
  const torch::Tensor all_present =
      past > 0 ? torch::cat({cache.present, present.to(torch::kBool)}, 1) : present.to(torch::kBool);
  // Each row numbers its real tokens from 0; a padding position takes 0 (it is never read).
  const torch::Tensor positions = (all_present.to(torch::kLong).cumsum(1) - 1).clamp_min(0).narrow(1, past, seq);
  const int64_t longest = positions.max().item<int64_t>() + 1;
  NF_CHECK(longest <= config_.max_seq_len, UsageError, "a sequence of ", longest,
           " tokens passes the model's context, model.max_seq_len ", config_.max_seq_len);
  const RopeTables table = rope_tables(config_.head_dim(), config_.rope_theta, longest, tokens.device());
  const auto at_positions = [&](const torch::Tensor& t) {
    return t.index_select(0, positions.flatten()).view({tokens.size(0), 1, seq, t.size(1)});
  };
  const RopeTables rope{at_positions(table.cos), at_positions(table.sin)};
  // Query i (position past + i) sees the real tokens at or before it, and itself (so that a padding
  // row is never empty and its softmax stays finite).
  const torch::Tensor keys = torch::arange(total, tokens.options().dtype(torch::kLong));
  const torch::Tensor queries = torch::arange(past, total, tokens.options().dtype(torch::kLong)).unsqueeze(1);
  const torch::Tensor mask =
      ((keys.unsqueeze(0) <= queries).unsqueeze(0) & all_present.unsqueeze(1)) | (keys.unsqueeze(0) == queries);
  torch::Tensor x = embed(tokens);
  for (int64_t i = 0; i < config_.n_layers; ++i) {
    x = model->layers->at<DecoderLayerImpl>(std::to_string(i))
            .forward(x, rope, mask.unsqueeze(1), /*recompute_attention_core=*/false, &cache.layers[i]);
  }
  cache.present = all_present;
  return head(every_position ? x : x.narrow(1, seq - 1, 1));
}

void CausalLMImpl::set_lora_enabled(bool enabled) {
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto column = std::dynamic_pointer_cast<parallel::tp::ColumnParallelLinearImpl>(module)) {
      column->set_lora_enabled(enabled);
    } else if (auto row = std::dynamic_pointer_cast<parallel::tp::RowParallelLinearImpl>(module)) {
      row->set_lora_enabled(enabled);
    }
  }
}

torch::Tensor CausalLMImpl::output_weight() const {
  if (!config_.tie_embeddings) return lm_head_->weight;
  return part_.embedding ? model->embed_tokens->weight : tied_output_weight_;
}

std::vector<int64_t> CausalLMImpl::hidden_shape(int64_t rows, int64_t seq) const {
  if (!tp_.splits_sequence()) return {rows, seq, config_.d_model};
  NF_CHECK(seq % tp_.size() == 0, UsageError, "sequence parallelism: sequence length ", seq,
           " is not divisible by tp (", tp_.size(), ")");
  return {rows, seq / tp_.size(), config_.d_model};
}

std::vector<int64_t> CausalLMImpl::full_shape_of(const std::string& name) const {
  return model::full_shape_of(config_, name);
}

parallel::tp::ShardSpec CausalLMImpl::shard_spec_of(const std::string& name) const {
  return model::shard_spec_of(config_, name, tp_.comm);
}

int64_t initialize(CausalLMImpl& model, const InitOptions& options) {
  torch::NoGradGuard no_grad;
  int64_t count = 0;
  for (auto& [name, parameter] : named_parameters(model)) {
    // Every rank draws the full tensor and keeps its block: the values never depend on tp.
    const at::Tensor full = initial_value(options, name, model.full_shape_of(name));
    parameter.copy_(parallel::tp::take_shard(full, model.shard_spec_of(name)));
    count += full.numel();
  }
  if (model.tied_output_weight().defined()) {
    const std::string name = "model.embed_tokens.weight";
    model.tied_output_weight().copy_(
        parallel::tp::take_shard(initial_value(options, name, model.full_shape_of(name)), model.shard_spec_of(name)));
  }
  return count;
}

std::string unit_of(const std::string& parameter_name) {
  const std::string layers = "model.layers.";
  if (parameter_name.rfind("model.embed_tokens.", 0) == 0) return "embed";
  if (parameter_name.rfind(layers, 0) != 0) return "head";
  return "layer." + parameter_name.substr(layers.size(), parameter_name.find('.', layers.size()) - layers.size());
}

std::vector<std::pair<std::string, torch::Tensor>> named_parameters(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> result;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) result.emplace_back(item.key(), item.value());
  return result;
}

}  // namespace nf::model
