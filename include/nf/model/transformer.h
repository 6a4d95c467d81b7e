// The decoder-only language model, named as Hugging Face's LlamaForCausalLM so that checkpoints
// map one to one: model.embed_tokens, model.layers.{i}.*, model.norm, lm_head (absent when tied).
// Its three stages (embed, a range of layers, head) are separate calls, and a pipeline stage
// constructs only the part it holds (StagePart): its layers keep their global indices as names. Given a tensor-parallel
// communicator, every parameter keeps its HF name but holds this rank's shard (sharding.h, docs/parallelism.md); the
// hidden states between stages stay full and replicated on every tp rank (under sequence parallelism, each rank holds
// its shard of the sequence), and the logits are vocab-sharded.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/model/init.h"
#include "nf/model/kv_cache.h"
#include "nf/model/layers.h"
#include "nf/model/loss.h"
#include "nf/model/model_config.h"
#include "nf/model/recompute.h"
#include "nf/model/sharding.h"
#include "nf/parallel/dp/unit_hooks.h"
#include "nf/parallel/tp/vocab_parallel.h"

namespace nf::model {

// The part of the model one pipeline stage holds; the default is the whole model.
struct StagePart {
  int64_t first_layer = 0;
  int64_t n_layers = -1;  // -1: every layer from first_layer on
  bool embedding = true;  // model.embed_tokens (the first stage)
  bool head = true;       // model.norm and lm_head (the last stage)
};

// The body (HF's LlamaModel, registered as "model"): embedding, decoder layers, final norm; each
// only where `part` holds it (the others stay null).
class DecoderStackImpl : public torch::nn::Module {
 public:
  DecoderStackImpl(const ModelConfig& config, const TensorParallel& tp, const StagePart& part);
  parallel::tp::VocabParallelEmbedding embed_tokens{nullptr};
  torch::nn::ModuleDict layers{nullptr};  // keyed by the global layer index
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

class CausalLMImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError, including the tp constraints of sharding.h) and creates
  // uninitialized parameters; call initialize(). `tp` (a communicator, or {communicator,
  // sequence_parallel}; none or one rank = no tensor parallelism) must outlive the model; every tp
  // rank runs the same calls on the same tokens. `part` selects a pipeline stage's share. A head
  // stage without the embedding, when the embeddings are tied, holds a copy of the embedding weight
  // that is not a parameter (tied_output_weight(): the trainer keeps it equal to the first stage's).
  explicit CausalLMImpl(const ModelConfig& config, const TensorParallel& tp = {}, StagePart part = {});

  // tokens [batch, seq] (int64) -> hidden [batch, seq, d_model] (hidden_shape()).
  torch::Tensor embed(const torch::Tensor& tokens);
  // Runs layers [begin, end) (held by this part) over hidden (hidden_shape()); positions are 0..seq-1
  // of the whole sequence.
  // `document_ids` [batch, seq] (the whole sequence; undefined = none): tokens attend only within
  // their document (document_attention_mask), as when packed documents are kept apart.
  torch::Tensor forward_layers(const torch::Tensor& hidden, int64_t begin, int64_t end,
                               const torch::Tensor& document_ids = {});
  // Final norm and lm_head (the embedding's weight when tied): hidden -> logits [batch, seq, vocab];
  // under tp, this rank's vocabulary columns [batch, seq, padded_vocab / tp] of the whole sequence
  // (feed them to loss()).
  torch::Tensor head(const torch::Tensor& hidden);
  // The (sum, count) next-token loss of head()'s logits: cross_entropy_sum, or under tp its
  // vocab-parallel form (identical on every tp rank, equal to the unsharded value).
  LossSum loss(const torch::Tensor& logits, const torch::Tensor& targets,
               const std::optional<torch::Tensor>& loss_mask = std::nullopt);
  // Σ log p(target) over each row's counted tokens of head()'s logits, [batch] fp32: sequence_log_probs,
  // or under tp its vocab-parallel form (identical on every tp rank). DPO scores responses by it.
  torch::Tensor sequence_log_probs(const torch::Tensor& logits, const torch::Tensor& targets,
                                   const torch::Tensor& loss_mask);
  // Called around each unit of parameters the model runs (ZeRO 3's gathers, parallel/dp/zero3.h);
  // nullptr = none. Units: unit_of(). `hooks` must outlive the model's use of it.
  void set_unit_hooks(parallel::dp::UnitHooks* hooks) { unit_hooks_ = hooks; }
  // LoRA (model.lora): the adapters on (default) or off, where the model then computes as its frozen
  // base (DPO's reference). Under LoRA only the adapters require gradients.
  bool has_lora() const { return config_.lora.enabled(); }
  void set_lora_enabled(bool enabled);
  // What forward_layers keeps for backward (training.recompute); none by default.
  void set_recompute(const Recompute& recompute) { recompute_ = recompute; }
  // embed -> all layers -> head.
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& document_ids = {});
  // Generation (kv_cache.h): the logits (as head()'s) of `tokens` [batch, seq] appended to the
  // positions `cache` holds, which gains their keys and values. `present` [batch, seq] bool marks
  // the real tokens (false: left padding, never attended to; each row's RoPE positions count its
  // real tokens only). The whole model only (no pipeline stage), without sequence parallelism;
  // call under torch::NoGradGuard. UsageError when a row's positions would pass max_seq_len. The
  // logits are of the last position only ([batch, 1, vocab]: what the next token needs; a long
  // prompt's would be [batch, seq, vocab]), or with `every_position` of each.
  torch::Tensor forward_cached(const torch::Tensor& tokens, const torch::Tensor& present, KvCache& cache,
                               bool every_position = false);

  const ModelConfig& config() const { return config_; }
  const StagePart& part() const { return part_; }
  // The weight of the output projection: lm_head.weight, or model.embed_tokens.weight when tied
  // (on a head stage without the embedding: tied_output_weight()).
  torch::Tensor output_weight() const;
  // The tied embedding's copy on a head stage without the embedding; undefined elsewhere.
  torch::Tensor tied_output_weight() const { return tied_output_weight_; }
  // The tp communicator (nullptr when not tensor-parallel).
  dist::Communicator* tp() const { return tp_.comm; }
  // The hidden state between stages for `rows` sequences of `seq` tokens: [rows, seq, d_model], or
  // under sequence parallelism this rank's positions, [rows, seq/tp, d_model] (seq divisible by tp).
  std::vector<int64_t> hidden_shape(int64_t rows, int64_t seq) const;
  // The full (HF) shape of parameter `name` and how this rank holds it (sharding.h).
  std::vector<int64_t> full_shape_of(const std::string& name) const;
  parallel::tp::ShardSpec shard_spec_of(const std::string& name) const;

  DecoderStack model{nullptr};

 private:
  // run() between the unit hooks' before_forward and after_forward of `unit`.
  torch::Tensor in_unit(const std::string& unit, const std::function<torch::Tensor()>& run);

  ModelConfig config_;
  TensorParallel tp_;
  StagePart part_;
  Recompute recompute_;
  parallel::dp::UnitHooks* unit_hooks_ = nullptr;
  parallel::tp::ColumnParallelLinear lm_head_{nullptr};  // null when config.tie_embeddings or no head
  torch::Tensor tied_output_weight_;
};
TORCH_MODULE(CausalLM);

// Fills every parameter of `model` (and a tied output copy) with its shard (model.shard_spec_of) of
// initial_value(options, name, full shape), so values do not depend on tp or pp, and returns the
// number of elements of the parameters it holds (the whole model: equals count_parameters(config)).
int64_t initialize(CausalLMImpl& model, const InitOptions& options);

// The unit a parameter belongs to, the parameters a model part uses together: "embed"
// (model.embed_tokens), "layer.<i>" (model.layers.<i>.*), "head" (model.norm, lm_head).
std::string unit_of(const std::string& parameter_name);

// The parameters in registration (HF) order, each with its full dotted name.
std::vector<std::pair<std::string, torch::Tensor>> named_parameters(const torch::nn::Module& model);

}  // namespace nf::model
