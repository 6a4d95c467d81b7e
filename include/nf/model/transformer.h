// The decoder-only language model, named as Hugging Face's LlamaForCausalLM so that checkpoints
// map one to one: model.embed_tokens, model.layers.{i}.*, model.norm, lm_head (absent when tied).
// Its three stages (embed, a range of layers, head) are separate calls, so a pipeline stage can run
// only the part it holds.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <utility>
#include <vector>

#include "nf/model/init.h"
#include "nf/model/layers.h"
#include "nf/model/model_config.h"

namespace nf::model {

// The body (HF's LlamaModel, registered as "model"): embedding, decoder layers, final norm.
class DecoderStackImpl : public torch::nn::Module {
 public:
  explicit DecoderStackImpl(const ModelConfig& config);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

class CausalLMImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError) and creates uninitialized parameters; call initialize().
  explicit CausalLMImpl(const ModelConfig& config);

  // tokens [batch, seq] (int64) -> hidden [batch, seq, d_model].
  torch::Tensor embed(const torch::Tensor& tokens);
  // Runs layers [begin, end) over hidden [batch, seq, d_model]; positions are 0..seq-1.
  torch::Tensor forward_layers(const torch::Tensor& hidden, int64_t begin, int64_t end);
  // Final norm and lm_head (the embedding's weight when tied): hidden -> logits [batch, seq, vocab].
  torch::Tensor head(const torch::Tensor& hidden);
  // embed -> all layers -> head.
  torch::Tensor forward(const torch::Tensor& tokens);

  const ModelConfig& config() const { return config_; }
  // The weight of the output projection: lm_head.weight, or model.embed_tokens.weight when tied.
  torch::Tensor output_weight() const;

  DecoderStack model{nullptr};

 private:
  ModelConfig config_;
  Projection lm_head_{nullptr};  // null when config.tie_embeddings
};
TORCH_MODULE(CausalLM);

// Fills every parameter of `model` with initial_value(options, name, full shape) and returns the
// number of parameter elements (tied weights counted once; equals count_parameters(config)).
int64_t initialize(torch::nn::Module& model, const InitOptions& options);

// The parameters in registration (HF) order, each with its full dotted name.
std::vector<std::pair<std::string, torch::Tensor>> named_parameters(const torch::nn::Module& model);

}  // namespace nf::model
