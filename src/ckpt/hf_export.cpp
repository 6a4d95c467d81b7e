// Hugging Face Llama export: parameter check against the config, config.json and
// generation_config.json, model.safetensors (or shards and their index) in the chosen dtype,
// tokenizer files, all staged in a sibling directory and renamed into place.
#include "nf/ckpt/hf_export.h"

#include <c10/util/accumulate.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "nf/ckpt/hf_config.h"
#include "nf/ckpt/safetensors.h"
#include "nf/ckpt/safetensors_stream.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/data/bpe_files.h"
#include "nf/model/sharding.h"

namespace nf::ckpt {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateHint = "export the checkpoint with the model config it was trained with";

// Parameter `name` of `state`: present, a floating-point CPU tensor of `shape`; CheckpointError otherwise.
void check_parameter(const StateDict& state, const std::string& name, const std::vector<int64_t>& shape,
                     const model::ModelConfig& config) {
  const auto found = state.find(name);
  if (found == state.end())
    throw CheckpointError(detail::concat("model state has no parameter '", name, "' (expected shape ",
                                         c10::IntArrayRef(shape), ") for a ", config.n_layers, "-layer model",
                                         config.tie_embeddings ? " with tied embeddings" : ""),
                          kStateHint);
  const torch::Tensor& tensor = found->second;
  NF_CHECK(tensor.defined() && tensor.device().is_cpu() && tensor.is_floating_point(), CheckpointError, "parameter '",
           name, "' is not a floating-point CPU tensor");
  if (tensor.sizes().vec() != shape)
    throw CheckpointError(detail::concat("parameter '", name, "' has shape ", tensor.sizes(),
                                         ", the model config needs ", c10::IntArrayRef(shape)),
                          kStateHint);
}

// The parameters in HF order cut into files of at most `max_bytes` each, as save_pretrained does:
// a file is closed when the next tensor would not fit, and a larger tensor gets a file of its own.
std::vector<std::vector<TensorDeclaration>> plan_shards(const model::ModelConfig& config, torch::ScalarType dtype,
                                                        uint64_t max_bytes) {
  std::vector<std::vector<TensorDeclaration>> shards(1);
  uint64_t bytes = 0;
  for (const auto& [name, shape] : model::parameter_table(config)) {
    const uint64_t size = c10::multiply_integers(shape) * c10::elementSize(dtype);
    if (!shards.back().empty() && bytes + size > max_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back({name, dtype, shape});
    bytes += size;
  }
  return shards;
}

// Writes the weights into `dir`: model.safetensors, or the shards and model.safetensors.index.json,
// reading one file's parameters at a time. Each tensor is converted to the export dtype as it is written.
void write_weights(const fs::path& dir, const model::ModelConfig& config, const StateReader& read,
                   const HfExportOptions& options) {
  const auto shards = plan_shards(config, scalar_type(options.dtype), options.max_shard_bytes);
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    const std::string file = shards.size() == 1 ? "model.safetensors" : name;
    std::vector<std::string> names;
    for (const TensorDeclaration& tensor : shards[i]) names.push_back(tensor.name);
    const StateDict state = read(names);
    for (const TensorDeclaration& tensor : shards[i]) check_parameter(state, tensor.name, tensor.shape, config);
    // transformers refuses safetensors files without format "pt" in their metadata.
    SafetensorsStreamWriter writer((dir / file).string(), shards[i], {{"format", "pt"}});
    for (const TensorDeclaration& tensor : shards[i]) {
      const torch::Tensor value = state.at(tensor.name).to(tensor.dtype).contiguous();
      writer.append(tensor.name, value);
      weight_map[tensor.name] = file;
      total += value.nbytes();
    }
    writer.commit();
  }
  if (shards.size() == 1) return;
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomic((dir / "model.safetensors.index.json").string(), index.dump(2) + "\n");
}

const char* torch_dtype_name(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::kFloat32:
      return "float32";
    case ExportDtype::kBFloat16:
      return "bfloat16";
    case ExportDtype::kFloat16:
      return "float16";
  }
  return "";
}

// The tokenizer files HF loaders look for; tokenizer.json or tokenizer.model is required.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                           "special_tokens_map.json"};

void copy_tokenizer(const std::string& source, const fs::path& stage) {
  const fs::path from(source);
  NF_CHECK(fs::exists(from), UsageError, "tokenizer path '", source, "' does not exist");
  if (fs::is_directory(from)) {
    bool found_model = false;
    for (const char* name : kTokenizerFiles) {
      if (!fs::is_regular_file(from / name)) continue;
      nf::copy_file((from / name).string(), (stage / name).string());
      found_model = found_model || std::string(name) == "tokenizer.json" || std::string(name) == "tokenizer.model";
    }
    NF_CHECK(found_model, UsageError, "tokenizer directory '", source,
             "' holds neither tokenizer.json nor tokenizer.model");
    return;
  }
  const std::string extension = from.extension().string();
  NF_CHECK(extension == ".json" || extension == ".model", UsageError, "tokenizer file '", source,
           "' is neither a tokenizer.json (*.json) nor a sentencepiece model (*.model)");
  nf::copy_file(from.string(), (stage / (extension == ".json" ? "tokenizer.json" : "tokenizer.model")).string());
}

// tokenizer_config.json for a tokenizer.json without one: the generic fast tokenizer class and the
// special tokens' names (transformers otherwise knows none, and a Llama config falls back to ids 1 and 2).
void write_tokenizer_config(const fs::path& stage, const HfExportOptions& options) {
  if (!fs::exists(stage / "tokenizer.json") || fs::exists(stage / "tokenizer_config.json")) return;
  nlohmann::ordered_json json = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                                 {"clean_up_tokenization_spaces", false}};
  if (!options.bos_token.empty()) json["bos_token"] = options.bos_token;
  if (!options.eos_token.empty()) json["eos_token"] = options.eos_token;
  if (!options.pad_token.empty()) json["pad_token"] = options.pad_token;
  if (json.size() == 2) return;  // no special token to name
  write_file_atomic((stage / "tokenizer_config.json").string(), json.dump(2) + "\n");
}

}  // namespace

ExportDtype parse_export_dtype(const std::string& text) {
  if (text == "fp32" || text == "float32") return ExportDtype::kFloat32;
  if (text == "bf16" || text == "bfloat16") return ExportDtype::kBFloat16;
  if (text == "fp16" || text == "float16") return ExportDtype::kFloat16;
  throw UsageError("unknown export dtype '" + text + "'", "use fp32, bf16 or fp16");
}

torch::ScalarType scalar_type(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::kFloat32:
      return torch::kFloat32;
    case ExportDtype::kBFloat16:
      return torch::kBFloat16;
    case ExportDtype::kFloat16:
      return torch::kFloat16;
  }
  return torch::kFloat32;
}

void set_export_tokenizer(HfExportOptions& options, const std::string& tokenizer) {
  options.with_tokenizer_path(tokenizer);
  const fs::path json = fs::is_directory(tokenizer) ? fs::path(tokenizer) / "tokenizer.json" : fs::path(tokenizer);
  if (tokenizer.empty() || json.extension() != ".json" || !fs::exists(json)) return;
  const std::unique_ptr<data::BpeTokenizer> loaded = data::load_bpe_tokenizer_json(json.string());
  if (const auto id = loaded->special(data::SpecialRole::kBos))
    options.with_bos_token_id(*id).bos_token = loaded->decode({*id});
  if (const auto id = loaded->special(data::SpecialRole::kEos))
    options.with_eos_token_id(*id).eos_token = loaded->decode({*id});
  if (const auto id = loaded->special(data::SpecialRole::kPad))
    options.with_pad_token_id(*id).pad_token = loaded->decode({*id});
}

void check_state(const StateDict& state, const model::ModelConfig& config) {
  std::set<std::string> wanted;
  for (const auto& [name, shape] : model::parameter_table(config)) {
    wanted.insert(name);
    check_parameter(state, name, shape, config);
  }
  for (const auto& [name, tensor] : state)
    if (!wanted.count(name))
      throw CheckpointError("model state has an unexpected parameter '" + name + "'" +
                                (name == "lm_head.weight" ? " (the config ties the embeddings)" : ""),
                            kStateHint);
}

nlohmann::ordered_json hf_config_json(const model::ModelConfig& config, const HfExportOptions& options) {
  nlohmann::ordered_json json = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}};
  for (const HfConfigKey& key : hf_config_keys()) json[key.hf_key] = key.value(config);
  json["hidden_act"] = "silu";
  json["attention_bias"] = false;
  json["mlp_bias"] = false;
  json["use_cache"] = true;
  json["torch_dtype"] = torch_dtype_name(options.dtype);
  if (options.bos_token_id) json["bos_token_id"] = *options.bos_token_id;
  if (options.eos_token_id) json["eos_token_id"] = *options.eos_token_id;
  if (options.pad_token_id) json["pad_token_id"] = *options.pad_token_id;
  return json;
}

nlohmann::ordered_json hf_generation_config_json(const HfExportOptions& options) {
  nlohmann::ordered_json json = {{"_from_model_config", true}};
  if (options.bos_token_id) json["bos_token_id"] = *options.bos_token_id;
  if (options.eos_token_id) json["eos_token_id"] = *options.eos_token_id;
  if (options.pad_token_id) json["pad_token_id"] = *options.pad_token_id;
  return json;
}

void export_hf(const std::string& out_dir, const model::ModelConfig& config, const StateReader& read,
               const HfExportOptions& options) {
  model::validate(config);
  AtomicDirectory out(out_dir, "export directory");
  const fs::path stage(out.staging());
  write_file_atomic((stage / "config.json").string(), hf_config_json(config, options).dump(2) + "\n");
  write_file_atomic((stage / "generation_config.json").string(), hf_generation_config_json(options).dump(2) + "\n");
  write_weights(stage, config, read, options);
  if (!options.tokenizer_path.empty()) copy_tokenizer(options.tokenizer_path, stage);
  write_tokenizer_config(stage, options);
  out.commit();
}

void export_hf(const std::string& out_dir, const model::ModelConfig& config, const StateDict& state,
               const HfExportOptions& options) {
  model::validate(config);
  check_state(state, config);
  export_hf(
      out_dir, config,
      [&state](const std::vector<std::string>& names) {
        StateDict part;
        for (const std::string& name : names) part[name] = state.at(name);
        return part;
      },
      options);
}

}  // namespace nf::ckpt
