// Initial parameters from a Hugging Face Llama directory or an nf step directory (hf_import.h):
// config.json checked against the job, then the safetensors files read through the resharding
// plan, each file standing in for a pipeline stage of a one-rank checkpoint.
#include "nf/train/hf_import.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include "nf/ckpt/hf_export.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/model/sharding.h"
#include "nf/train/reshard.h"

namespace nf::train {
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
  for (const auto& [name, shape] : ckpt::hf_parameter_shapes(hf)) parameters.insert(name);
  // Each file is a "stage" of a one-rank checkpoint: the plan opens only those with this rank's tensors.
  const std::vector<std::string> paths = model_files(dir);
  std::vector<SavedTensor> saved;
  std::map<std::string, std::string> file_of;
  for (size_t i = 0; i < paths.size(); ++i) {
    const ckpt::SafetensorsFile file(paths[i]);
    for (const ckpt::TensorInfo& info : file.tensors()) {
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
  const auto open = [&paths](int64_t, int64_t file) { return std::make_unique<ckpt::SafetensorsFile>(paths.at(file)); };
  return read_parameters(saved, 1, targets, open, dir.string());
}

}  // namespace

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
  const double rope_theta = value_of<double>(nested_rope ? *rope : hf, "rope_theta", 10000.0, path);

  const auto expect = [&](const char* key, auto hf_value, const std::string& nf_key, auto job_value) {
    if (hf_value == job_value) return;
    std::ostringstream message, value;
    value << std::boolalpha << hf_value;
    message << std::boolalpha << "'" << path << "' has " << key << " = " << value.str() << " but this job has "
            << nf_key << " = " << job_value;
    throw CheckpointError(message.str(), "set " + nf_key + ": " + value.str() +
                                             " to train the Hugging Face model as it is, or point model.init_from "
                                             "at a model of this job's shape");
  };
  const auto number = [&](const char* key, std::optional<int64_t> fallback = std::nullopt) {
    return value_of<int64_t>(hf, key, fallback, path);
  };
  const int64_t heads = number("num_attention_heads"), hidden = number("hidden_size");
  expect("hidden_size", hidden, "model.d_model", job.d_model);
  expect("num_hidden_layers", number("num_hidden_layers"), "model.n_layers", job.n_layers);
  expect("num_attention_heads", heads, "model.n_heads", job.n_heads);
  expect("num_key_value_heads", number("num_key_value_heads", heads), "model.n_kv_heads", job.kv_heads());
  expect("intermediate_size", number("intermediate_size"), "model.ffn_hidden", job.ffn_dim());
  expect("rope_theta", rope_theta, "model.rope_theta", job.rope_theta);
  expect("rms_norm_eps", value_of<double>(hf, "rms_norm_eps", 1e-6, path), "model.norm_eps", job.norm_eps);
  expect("tie_word_embeddings", value_of<bool>(hf, "tie_word_embeddings", false, path), "model.tie_embeddings",
         job.tie_embeddings);
  unsupported(number("head_dim", hidden / heads) == job.head_dim(), "head_dim",
              "d_model / n_heads = " + std::to_string(job.head_dim()));
  const int64_t vocab = number("vocab_size");
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
    check_same_model(read_checkpoint_config(source).model, job, source + "/config.yaml");
    return read_resharded(source, read_checkpoint_meta(source), targets, /*with_optimizer=*/false).parameters;
  }
  NF_CHECK(fs::exists(path / "config.json"), CheckpointError, "model.init_from: '", source,
           "' is neither a Hugging Face model directory (config.json) nor an nf step directory (meta.json)");
  return read_hf_directory(path, job, targets);
}

}  // namespace nf::train
