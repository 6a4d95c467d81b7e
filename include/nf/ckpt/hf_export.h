// Export of a consolidated model state as a Hugging Face Llama directory, loadable with
// transformers' LlamaForCausalLM.from_pretrained:
//
//   config.json             LlamaForCausalLM hyperparameters (hf_config_json)
//   generation_config.json  bos/eos ids
//   model.safetensors       every parameter, HF names, dtype fp32, bf16 or fp16; a model larger than
//                           max_shard_bytes is split as save_pretrained splits it:
//                           model-00001-of-0000N.safetensors ... and model.safetensors.index.json
//   tokenizer.json / tokenizer.model (+ tokenizer_config.json, special_tokens_map.json)  if given
//
// The layout is described in docs/checkpoints.md.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nf/model/model_config.h"

namespace nf::ckpt {

// Parameter name -> full (unsharded) tensor.
using StateDict = std::map<std::string, torch::Tensor>;

enum class ExportDtype { kFloat32, kBFloat16, kFloat16 };
// "fp32" | "bf16" | "fp16" (also "float32", "bfloat16", "float16"); UsageError otherwise.
ExportDtype parse_export_dtype(const std::string& text);
torch::ScalarType scalar_type(ExportDtype dtype);

struct HfExportOptions {
  ExportDtype dtype = ExportDtype::kBFloat16;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;
  // The tokenizer's bos, eos and pad tokens ("<|eos|>", ...): with a tokenizer.json and no
  // tokenizer_config.json of its own, the export writes one naming them, so that transformers'
  // AutoTokenizer knows them (generate() stops at eos, padding uses pad). Empty = not named.
  std::string bos_token, eos_token, pad_token;
  // A tokenizer file (tokenizer.json, or a sentencepiece *.model) or a directory holding
  // tokenizer.json / tokenizer.model and their HF companions; empty = export no tokenizer.
  std::string tokenizer_path;
  // The largest shard file (a larger tensor gets one of its own); Hugging Face's default, 5 GB.
  uint64_t max_shard_bytes = uint64_t{5} << 30;

  HfExportOptions& with_dtype(ExportDtype value) { return dtype = value, *this; }
  HfExportOptions& with_bos_token_id(int64_t value) { return bos_token_id = value, *this; }
  HfExportOptions& with_eos_token_id(int64_t value) { return eos_token_id = value, *this; }
  HfExportOptions& with_pad_token_id(int64_t value) { return pad_token_id = value, *this; }
  HfExportOptions& with_tokenizer_path(std::string value) { return tokenizer_path = std::move(value), *this; }
  HfExportOptions& with_max_shard_bytes(uint64_t value) { return max_shard_bytes = value, *this; }
};

// Sets the tokenizer an export carries: `tokenizer` (a file or directory; "" = none) and, from a
// tokenizer.json, its bos, eos and pad ids and tokens (without them transformers takes
// LlamaConfig's defaults, bos 1 and eos 2, which are other tokens of nf's tokenizers; a
// sentencepiece .model would need nf_sentencepiece, which is never linked with LibTorch).
void set_export_tokenizer(HfExportOptions& options, const std::string& tokenizer);

// Checks that `state` holds exactly the parameters of `config` (model::parameter_table) with their shapes, as
// floating-point CPU tensors. CheckpointError naming the first missing, unexpected or misshapen parameter.
void check_state(const StateDict& state, const model::ModelConfig& config);

// The config.json and generation_config.json contents.
nlohmann::ordered_json hf_config_json(const model::ModelConfig& config, const HfExportOptions& options);
nlohmann::ordered_json hf_generation_config_json(const HfExportOptions& options);

// Writes the directory `out_dir` (which must not exist, or be empty). Everything is written into a
// sibling staging directory renamed to `out_dir` at the end, so an interrupted export never leaves
// a directory that looks complete. Throws CheckpointError (state vs config), UsageError (out_dir
// not empty, no tokenizer at tokenizer_path), IoError.
void export_hf(const std::string& out_dir, const model::ModelConfig& config, const StateDict& state,
               const HfExportOptions& options);

// Returns the full tensors of the parameters named (HF names).
using StateReader = std::function<StateDict(const std::vector<std::string>& names)>;
// The same from a reader asked for one output file's parameters at a time, so that at most one
// file's worth (max_shard_bytes) of the model is in memory; each is checked as it arrives.
void export_hf(const std::string& out_dir, const model::ModelConfig& config, const StateReader& read,
               const HfExportOptions& options);

}  // namespace nf::ckpt
