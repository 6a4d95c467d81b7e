// Initial parameters from a Hugging Face Llama directory or an nf step directory (hf_import.h):
// config.json checked against the job, then the safetensors files read through the resharding
// plan, each file standing in for a pipeline stage of a one-rank checkpoint.
#include "nf/ckpt/hf_import.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include "nf/ckpt/hf_config.h"
#include "nf/ckpt/reshard.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/model/sharding.h"

namespace nf::ckpt {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Json parse_json(const std::string& text, const std::string& path) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw CheckpointError("'" + path + "' is not valid JSON: " + e.what(), "point model.init_from at an intact model");
  }
}

// config.json's `key`, or `fallback` (LlamaConfig's default) when it is absent or null.
template <typename T>
T value_of(const Json& json, const char* key, std::optional<T> fallback, const std::string& path) {
  const auto found = json.find(key);
  if (found == json.end() || found->is_null()) {
    NF_CHECK(fallback, CheckpointError, "'", path, "' has no ", key, "; it is not the config.json of a Llama model");
    return *fallback;
  }
  try {
    return found->get<T>();
  } catch (const Json::exception&) {
    throw CheckpointError(detail::concat("'", path, "': ", key, " = ", found->dump(), " is not a ",
                                         std::is_same_v<T, bool>          ? "boolean"
                                         : std::is_same_v<T, std::string> ? "string"
                                                                          : "number"));
  }
}

// A config value as the messages show it: numbers as C++ prints them (10000, 1e-05), the rest as JSON.
std::string shown(const Json& value) {
  if (!value.is_number_float()) return value.dump();
  std::ostringstream out;
  out << value.get<double>();
  return out.str();
}

// The model's safetensors files: the shards of model.safetensors.index.json, else model.safetensors.
std::vector<std::string> model_files(const fs::path& dir) {
  const fs::path index = dir / "model.safetensors.index.json";
  if (!fs::exists(index)) {
    NF_CHECK(fs::exists(dir / "model.safetensors"), CheckpointError, "'", dir.string(),
             "' has neither model.safetensors nor model.safetensors.index.json");
    return {(dir / "model.safetensors").string()};
  }
  const Json json = parse_json(read_file(index.string()), index.string());
  const auto map = json.find("weight_map");
  NF_CHECK(map != json.end() && map->is_object(), CheckpointError, "'", index.string(),
           "' has no \"weight_map\" object");
  std::set<std::string> names;
  for (const auto& [tensor, file] : map->items()) {
    NF_CHECK(file.is_string(), CheckpointError, "'", index.string(), "': weight_map[\"", tensor,
             "\"] is not a file name");
    names.insert(file.get<std::string>());
  }
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back((dir / name).string());
  return paths;
}

NamedTensors read_hf_directory(const fs::path& dir, const model::ModelConfig& job,
                               std::vector<ParameterShard> targets) {
  const std::string config_path = (dir / "config.json").string();
  model::ModelConfig hf = job;
  hf.vocab_size = check_hf_config(read_file(config_path), job, config_path);
  std::set<std::string> parameters;
  for (const auto& [name, shape] : model::parameter_table(hf)) parameters.insert(name);
  // Each file is a "stage" of a one-rank checkpoint: the plan opens only those with this rank's tensors.
  const std::vector<std::string> paths = model_files(dir);
  std::vector<SavedTensor> saved;
  std::map<std::string, std::string> file_of;
  for (size_t i = 0; i < paths.size(); ++i) {
    const SafetensorsFile file(paths[i]);
    for (const TensorInfo& info : file.tensors()) {
      if (!parameters.count(info.name)) continue;  // e.g. rotary inv_freq buffers of older exports
      const auto [previous, added] = file_of.emplace(info.name, paths[i]);
      NF_CHECK(added, CheckpointError, "tensor '", info.name, "' is in both '", previous->second, "' and '", paths[i],
               "'");
      saved.push_back(
          {info.name, static_cast<int64_t>(i), model::shard_spec_of(hf, info.name, nullptr), info.shape, info.dtype});
    }
  }
  // A job vocabulary larger than the model's: the rows the model has, the rest stay zero.
  for (ParameterShard& target : targets) {
    const std::vector<int64_t> shape = model::full_shape_of(hf, target.name);
    if (target.spec.replicated() || shape == target.full_shape) continue;
    target.full_shape = shape;
    target.spec.full_size = shape.at(target.spec.dim);
  }
  const auto open = [&paths](int64_t, int64_t file) { return std::make_unique<SafetensorsFile>(paths.at(file)); };
  return read_parameters(saved, 1, targets, open, dir.string());
}

}  // namespace

model::ModelConfig read_hf_model_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  NF_CHECK(fs::is_regular_file(path), CheckpointError, "'", dir,
           "' has no config.json; it is not a Hugging Face model");
  const std::string text = read_file(path);
  const Json hf = parse_json(text, path);
  NF_CHECK(hf.is_object(), CheckpointError, "'", path, "' is not a JSON object");
  const auto rope = hf.find("rope_parameters");
  const Json& rope_source = rope != hf.end() && rope->is_object() ? *rope : hf;
  // LlamaConfig's default of a key (hf_config.h), or none when config.json must have it.
  const auto fallback = [](const char* key) -> Json {
    for (const HfConfigKey& entry : hf_config_keys()) {
      if (std::string(entry.hf_key) == key) return entry.llama_default;
    }
    return nullptr;
  };
  const auto integer = [&](const char* key, std::optional<int64_t> otherwise = std::nullopt) {
    const Json given = fallback(key);
    return value_of<int64_t>(hf, key, given.is_null() ? otherwise : std::optional<int64_t>(given.get<int64_t>()), path);
  };
  model::ModelConfig config;
  config.vocab_size = integer("vocab_size");
  config.d_model = integer("hidden_size");
  config.n_layers = integer("num_hidden_layers");
  config.n_heads = integer("num_attention_heads");
  config.n_kv_heads = integer("num_key_value_heads", config.n_heads);
  config.ffn_hidden = integer("intermediate_size");
  config.max_seq_len = integer("max_position_embeddings");
  config.rope_theta = value_of<double>(rope_source, "rope_theta", fallback("rope_theta").get<double>(), path);
  config.norm_eps = value_of<double>(hf, "rms_norm_eps", fallback("rms_norm_eps").get<double>(), path);
  config.tie_embeddings = value_of<bool>(hf, "tie_word_embeddings", fallback("tie_word_embeddings").get<bool>(), path);
  model::validate(config);
  check_hf_config(text, config, path);  // what nf does not implement (model_type, biases, rope_scaling, ...)
  return config;
}

int64_t check_hf_config(const std::string& config_json_text, const model::ModelConfig& job, const std::string& path) {
  const Json hf = parse_json(config_json_text, path);
  NF_CHECK(hf.is_object(), CheckpointError, "'", path, "' is not a JSON object");
  const auto unsupported = [&](bool ok, const char* key, const std::string& nf_has) {
    NF_CHECK(ok, CheckpointError, "'", path, "' has ", key, " = ", hf.at(key).dump(), ", but nf's Llama models have ",
             nf_has, "; model.init_from cannot load this model");
  };
  const std::string type = value_of<std::string>(hf, "model_type", "llama", path);
  unsupported(type == "llama", "model_type", "\"llama\"");
  unsupported(value_of<std::string>(hf, "hidden_act", "silu", path) == "silu", "hidden_act", "\"silu\" (SwiGLU)");
  unsupported(!value_of<bool>(hf, "attention_bias", false, path), "attention_bias", "false");
  unsupported(!value_of<bool>(hf, "mlp_bias", false, path), "mlp_bias", "false");
  unsupported(!hf.contains("rope_scaling") || hf["rope_scaling"].is_null(), "rope_scaling", "null (plain RoPE)");
  // transformers 5 writes RoPE as "rope_parameters": {"rope_type", "rope_theta", ...}; earlier
  // versions (and nf's export) as top-level rope_theta and rope_scaling.
  const auto rope = hf.find("rope_parameters");
  const bool nested_rope = rope != hf.end() && !rope->is_null();
  if (nested_rope) {
    NF_CHECK(rope->is_object(), CheckpointError, "'", path, "': rope_parameters = ", rope->dump(), " is not an object");
    const std::string rope_type = value_of<std::string>(*rope, "rope_type", "default", path);
    NF_CHECK(rope_type == "default", CheckpointError, "'", path, "' has rope_parameters.rope_type = \"", rope_type,
             "\", but nf's Llama models have \"default\" (plain RoPE); model.init_from cannot load this model");
  }

  const int64_t heads = value_of<int64_t>(hf, "num_attention_heads", std::nullopt, path);
  for (const HfConfigKey& key : hf_config_keys()) {
    if (key.check != HfConfigKey::kMustMatch) continue;
    const Json& source = std::string(key.hf_key) == "rope_theta" && nested_rope ? *rope : hf;
    const Json fallback = std::string(key.hf_key) == "num_key_value_heads" ? Json(heads) : key.llama_default;
    const Json job_value = key.value(job);
    const auto found = source.find(key.hf_key);
    const Json given = found == source.end() || found->is_null() ? fallback : *found;
    NF_CHECK(!given.is_null(), CheckpointError, "'", path, "' has no ", key.hf_key,
             "; it is not the config.json of a Llama model");
    const bool typed = job_value.is_boolean()        ? given.is_boolean()
                       : job_value.is_number_float() ? given.is_number()
                                                     : given.is_number_integer();
    NF_CHECK(typed, CheckpointError, "'", path, "': ", key.hf_key, " = ", given.dump(), " is not a ",
             job_value.is_boolean()        ? "boolean"
             : job_value.is_number_float() ? "number"
                                           : "whole number");
    const bool same = job_value.is_boolean()        ? given.get<bool>() == job_value.get<bool>()
                      : job_value.is_number_float() ? given.get<double>() == job_value.get<double>()
                                                    : given.get<int64_t>() == job_value.get<int64_t>();
    if (same) continue;
    std::ostringstream message;
    message << "'" << path << "' has " << key.hf_key << " = " << shown(given) << " but this job has " << key.nf_key
            << " = " << shown(job_value);
    throw CheckpointError(message.str(), std::string("set ") + key.nf_key + ": " + shown(given) +
                                             " to train the Hugging Face model as it is, or point model.init_from "
                                             "at a model of this job's shape");
  }
  const int64_t hidden = value_of<int64_t>(hf, "hidden_size", std::nullopt, path);
  unsupported(value_of<int64_t>(hf, "head_dim", hidden / heads, path) == job.head_dim(), "head_dim",
              "d_model / n_heads = " + std::to_string(job.head_dim()));
  const int64_t vocab = value_of<int64_t>(hf, "vocab_size", std::nullopt, path);
  NF_CHECK(vocab >= 1, CheckpointError, "'", path, "' has vocab_size = ", vocab);
  if (vocab > job.vocab_size) {
    throw CheckpointError(detail::concat("'", path, "' has vocab_size = ", vocab,
                                         " but this job has model.vocab_size = ", job.vocab_size, ", which is smaller"),
                          "set model.vocab_size: " + std::to_string(vocab) + " (or larger, a padded vocabulary)");
  }
  return vocab;
}

NamedTensors read_initial_parameters(const std::string& source, const model::ModelConfig& job,
                                     const std::vector<ParameterShard>& targets) {
  const fs::path path(source);
  if (fs::exists(path / "meta.json")) {
    const model::ModelConfig saved = read_model_layout(source).model;
    const bool base = std::any_of(targets.begin(), targets.end(),
                                  [](const ParameterShard& t) { return !model::is_lora_parameter(t.name); });
    NF_CHECK(!saved.lora.enabled() || !base, CheckpointError, "'", source,
             "' holds LoRA adapters, not a whole model: merge them into their base first (nf-ckpt export-hf "
             "--merge-lora) and start from that directory with model.init_from");
    check_same_model(saved, job, source + "/config.yaml");
    if (!base) check_same_adapters(saved.lora, job.lora, source + "/config.yaml");
    return read_resharded(source, read_checkpoint_meta(source), targets, /*with_optimizer=*/false).parameters;
  }
  NF_CHECK(fs::exists(path / "config.json"), CheckpointError, "model.init_from: '", source,
           "' is neither a Hugging Face model directory (config.json) nor an nf step directory (meta.json)");
  return read_hf_directory(path, job, targets);
}

}  // namespace nf::ckpt
