// The decoder-only language model (transformer.h) and its name-based initialization.
#include "nf/model/transformer.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "nf/core/error.h"

namespace nf::model {

DecoderStackImpl::DecoderStackImpl(const ModelConfig& config) {
  embed_tokens = register_module("embed_tokens", Embedding(config.vocab_size, config.d_model));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layers; ++i) layers->push_back(DecoderLayer(config));
  norm = register_module("norm", RMSNorm(config.d_model, config.norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config) : config_(config) {
  validate(config_);
  model = register_module("model", DecoderStack(config_));
  // Tied: no lm_head parameter at all (HF lists the shared tensor once, as the embedding).
  if (!config_.tie_embeddings) lm_head_ = register_module("lm_head", Projection(config_.d_model, config_.vocab_size));
}

torch::Tensor CausalLMImpl::embed(const torch::Tensor& tokens) { return model->embed_tokens(tokens); }

torch::Tensor CausalLMImpl::forward_layers(const torch::Tensor& hidden, int64_t begin, int64_t end) {
  NF_CHECK(0 <= begin && begin <= end && end <= config_.n_layers, UsageError, "layer range [", begin, ", ", end,
           ") is outside the model's ", config_.n_layers, " layers");
  NF_CHECK(hidden.size(1) <= config_.max_seq_len, UsageError, "sequence length ", hidden.size(1),
           " exceeds model.max_seq_len (", config_.max_seq_len, ")");
  const RopeTables rope = rope_tables(config_.head_dim(), config_.rope_theta, hidden.size(1), hidden.device());
  torch::Tensor x = hidden;
  for (int64_t i = begin; i < end; ++i) x = model->layers->at<DecoderLayerImpl>(i).forward(x, rope);
  return x;
}

torch::Tensor CausalLMImpl::head(const torch::Tensor& hidden) {
  return at::linear(model->norm(hidden), output_weight());
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& tokens) {
  return head(forward_layers(embed(tokens), 0, config_.n_layers));
}

torch::Tensor CausalLMImpl::output_weight() const {
  return config_.tie_embeddings ? model->embed_tokens->weight : lm_head_->weight;
}

int64_t initialize(torch::nn::Module& model, const InitOptions& options) {
  torch::NoGradGuard no_grad;
  int64_t count = 0;
  for (auto& [name, parameter] : named_parameters(model)) {
    parameter.copy_(initial_value(options, name, parameter.sizes()));
    count += parameter.numel();
  }
  return count;
}

std::vector<std::pair<std::string, torch::Tensor>> named_parameters(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> result;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) result.emplace_back(item.key(), item.value());
  return result;
}

}  // namespace nf::model
