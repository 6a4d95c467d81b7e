// Starting weights from a checkpoint of any layout: each rank reads the rows of its own shards.
#include "nf/ckpt/initial_weights.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "nf/ckpt/hf_import.h"
#include "nf/ckpt/lora.h"
#include "nf/core/error.h"
#include "nf/model/model_config.h"
#include "nf/model/sharding.h"

namespace nf::ckpt {

namespace fs = std::filesystem;

std::string resolve_load_from(const std::string& load_from, const std::string& output_dir) {
  const fs::path given(load_from);
  std::vector<fs::path> tried;
  if (given.is_relative()) tried.push_back(fs::path(output_dir) / given);
  tried.push_back(given);
  for (const fs::path& path : tried) {
    if (!fs::exists(path)) continue;
    // A run directory holds checkpoints/; a step or checkpoints directory is what resume takes.
    const bool run_dir = fs::is_directory(path / "checkpoints") && !fs::exists(path / "meta.json");
    try {
      return resume_candidates((run_dir ? path / "checkpoints" : path).string(), "").front();
    } catch (const CheckpointError&) {
      throw CheckpointError("training.load_from: '" + path.string() +
                                "' is neither a step directory (with meta.json), a checkpoints directory with a "
                                "'latest' file, nor a run directory with checkpoints/latest",
                            "pass runs/<name>, runs/<name>/checkpoints or runs/<name>/checkpoints/step_N");
    }
  }
  std::string paths;
  for (const fs::path& path : tried) paths += (paths.empty() ? "'" : " or '") + path.string() + "'";
  throw CheckpointError("training.load_from: no checkpoint at " + paths,
                        "name a run (e.g. pretrain_tiny, under output.dir), its checkpoints directory, or a step "
                        "directory; leave training.load_from empty to start from random weights");
}

std::vector<ParameterShard> parameter_shards(const model::ModelConfig& config, const dist::Communicator* tp,
                                             const NamedTensors& parameters) {
  std::vector<ParameterShard> shards;
  for (const auto& [name, parameter] : parameters) {
    shards.push_back({name, model::full_shape_of(config, name), model::shard_spec_of(config, name, tp)});
  }
  return shards;
}

void load_weights(const std::string& source, const model::ModelConfig& config, const dist::Communicator* tp,
                  const NamedTensors& parameters) {
  restore_tensors(parameters, read_initial_parameters(source, config, parameter_shards(config, tp, parameters)),
                  source);
}

void load_model_weights(const std::string& source, const model::ModelConfig& config, const dist::Communicator* tp,
                        const NamedTensors& parameters) {
  NamedTensors base, adapters;
  for (const auto& item : parameters) (model::is_lora_parameter(item.first) ? adapters : base).push_back(item);
  if (adapters.empty()) return load_weights(source, config, tp, parameters);
  load_weights(lora_base_of(source), config, tp, base);
  load_weights(source, config, tp, adapters);
}

}  // namespace nf::ckpt
