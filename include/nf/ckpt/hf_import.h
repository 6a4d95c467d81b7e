// Initial parameters from a pretrained model (model.init_from): a Hugging Face Llama directory
//   config.json                       LlamaForCausalLM hyperparameters, checked against the job's model
//   model.safetensors                 every parameter, HF names (any float dtype), or
//   model.safetensors.index.json      {"weight_map": {name: file}} and the shard files it names
// or an nf step directory (meta.json). Each rank reads only the tensors of its own pipeline stage
// and copies out its tensor-parallel rows through the resharding plan (reshard.h), in any layout.
#pragma once

#include <string>
#include <vector>

#include "nf/ckpt/checkpoint.h"
#include "nf/model/model_config.h"

namespace nf::ckpt {

// Refuses (CheckpointError naming `path`, the config.json key, the nf key and both values) a
// config.json whose model differs from `job`: hidden_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, intermediate_size, rope_theta, rms_norm_eps,
// tie_word_embeddings, a head_dim other than hidden_size / num_attention_heads, or a model_type,
// hidden_act, bias or rope_scaling nf does not implement. vocab_size may be smaller than the
// job's (a vocabulary padded for the job). Returns config.json's vocab_size.
int64_t check_hf_config(const std::string& config_json_text, const model::ModelConfig& job, const std::string& path);

// The model of a Hugging Face Llama directory's config.json (nf-generate --model HF_DIR), with
// LlamaConfig's defaults for absent keys; CheckpointError naming the file and key when one is
// missing or of the wrong type, or the model is not one nf implements (check_hf_config).
model::ModelConfig read_hf_model_config(const std::string& dir);

// The targets' tensors (this rank's shards, in target order, the file's dtype) from `source`: a
// Hugging Face directory (check_hf_config first; rows of the job's vocabulary past config.json's
// vocab_size stay zero) or an nf step directory (check_same_model first; weights only).
// CheckpointError naming the file and the tensor when one is missing or misshapen.
NamedTensors read_initial_parameters(const std::string& source, const model::ModelConfig& job,
                                     const std::vector<ParameterShard>& targets);

}  // namespace nf::ckpt
