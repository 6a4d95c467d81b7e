// Starting weights from a checkpoint of any layout: consolidate, then take this rank's shard.
#include "initial_weights.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "nf/core/error.h"
#include "nf/model/model_config.h"

namespace nf::train {
namespace {

namespace fs = std::filesystem;

}  // namespace

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

CheckpointMeta load_weights(const std::string& step_dir, const model::CausalLMImpl& model,
                            const NamedTensors& parameters) {
  const CheckpointMeta meta = read_checkpoint_meta(step_dir);
  const std::map<std::string, at::Tensor> full = consolidate_model(step_dir);
  int64_t saved = 0;
  for (const auto& [name, tensor] : full) saved += tensor.numel();
  const int64_t expected = model::count_parameters(model.config());
  const std::string fix = "set model.* as in " + step_dir + "/config.yaml (training.load_from needs the same model)";
  NF_CHECK(saved == expected, CheckpointError, "training.load_from: '", step_dir, "' holds ", saved,
           " parameters but this model has ", expected, "; ", fix);
  at::NoGradGuard no_grad;
  for (const auto& [name, parameter] : parameters) {
    const auto found = full.find(name);
    NF_CHECK(found != full.end(), CheckpointError, "training.load_from: '", step_dir, "' has no tensor '", name, "'; ",
             fix);
    const std::vector<int64_t> shape = model.full_shape_of(name);
    NF_CHECK(found->second.sizes() == c10::IntArrayRef(shape), CheckpointError, "training.load_from: tensor '", name,
             "' of '", step_dir, "' has shape ", found->second.sizes(), " but this model's is ",
             c10::IntArrayRef(shape), "; ", fix);
    at::Tensor destination = parameter;
    destination.copy_(parallel::tp::take_shard(found->second, model.shard_spec_of(name)));
  }
  return meta;
}

}  // namespace nf::train
