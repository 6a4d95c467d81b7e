// The one place that says how each parameter of the Llama decoder is split under tensor
// parallelism (docs/parallelism.md). Names are Hugging Face's; the layers create shards of the
// shapes given here (CausalLM checks this at construction), initialize() cuts each rank's shard
// from the full initial tensor with it, and checkpoint code gathers / scatters full tensors with it
// (parallel::tp::gather_full / take_shard).
//   column (dim 0): q_proj, k_proj, v_proj, gate_proj, up_proj: whole heads / ffn rows per rank
//   row (dim 1):    o_proj, down_proj
//   vocab (dim 0, padded to a multiple of tp with zero rows): embed_tokens, lm_head
//   replicated:     every norm
//   LoRA (A [rank, in], B [out, rank]): beside a column split, A whole and B by rows; beside a row
//                   split, A by columns and B whole
#pragma once

#include <string>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/model/model_config.h"
#include "nf/parallel/tp/shard.h"

namespace nf::model {

// One parameter of the decoder: its Hugging Face name and full (unsharded, unpadded: the HF
// checkpoint's) shape.
struct ParameterInfo {
  std::string name;
  std::vector<int64_t> full_shape;
};

// Every parameter of the decoder `config` describes, in Hugging Face order (the order of
// named_parameters); lm_head.weight only when the embeddings are not tied. The table that
// checkpoints, exports and imports walk.
std::vector<ParameterInfo> parameter_table(const ModelConfig& config);

// The LoRA adapters of `config` (model.lora; none at rank 0): for each layer, each targeted
// projection's lora_A.weight [rank, in] and lora_B.weight [out, rank] (PEFT's names without its
// "base_model.model." prefix), in the model's order.
std::vector<ParameterInfo> lora_table(const ModelConfig& config);

// What trains and what checkpoints hold: the adapters under LoRA (the base is frozen and
// referenced, docs/lora.md), else every parameter.
std::vector<ParameterInfo> trainable_table(const ModelConfig& config);

bool is_lora_parameter(const std::string& name);

// The full (unsharded, unpadded: the HF checkpoint's) shape of parameter `name`; UsageError for a
// name the model does not have.
std::vector<int64_t> full_shape_of(const ModelConfig& config, const std::string& name);

// How `name` is split over `tp` (nullptr or one rank: every spec holds the whole tensor).
parallel::tp::ShardSpec shard_spec_of(const ModelConfig& config, const std::string& name, const dist::Communicator* tp);

// The tp constraints on the config: n_heads, n_kv_heads and the MLP width divisible by tp
// (whole heads per rank); throws ConfigError naming parallel.tp and the model key.
void validate_tensor_parallel(const ModelConfig& config, int64_t tp);

}  // namespace nf::model
