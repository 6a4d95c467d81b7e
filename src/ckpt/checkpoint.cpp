// Saving, finding and loading training checkpoints (checkpoint.h); a layout change goes through reshard.h.
#include "nf/ckpt/checkpoint.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>

#include "checkpoint_files.h"
#include "nf/ckpt/reshard.h"
#include "nf/core/atomic_file.h"
#include "nf/core/config/schema.h"
#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/dist/parallel_keys.h"
#include "nf/model/model_keys.h"
#include "nf/parallel/dp/flat_layout.h"
#include "nf/parallel/pp/schedule.h"

namespace nf::ckpt {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLatestFile = "latest";
// Names with a dot are never complete checkpoints (step_directories skips them): a save writes
// into step_N.partial, a step saved again moves the old directory to step_N.replaced, and pruning
// renames a directory to step_N.removed before deleting it, so a half-deleted one never looks whole.
constexpr const char* kStagingSuffix = ".partial";
constexpr const char* kReplacedSuffix = ".replaced";
constexpr const char* kRemovedSuffix = ".removed";

// Reads every tensor of one of this rank's own files, checked against meta.json.
NamedTensors read_own_file(const std::string& step_dir, const std::string& name, const CheckpointMeta& meta) {
  return open_verified(step_dir, name, meta)->read_all();
}

// Step directories under `dir` (complete ones only), oldest first.
std::vector<std::pair<int64_t, fs::path>> step_directories(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step_", 0) != 0 || name.find('.') != std::string::npos) continue;
    if (!fs::exists(entry.path() / kMetaFile)) continue;
    out.emplace_back(std::stoll(name.substr(5)), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void remove_directory(const fs::path& dir) {
  const fs::path doomed = dir.string() + kRemovedSuffix;
  rename_path(dir.string(), doomed.string());
  remove_all(doomed.string());
}

// What saves cut short by a crash left in `dir`: staging, replaced and half-removed step
// directories, and temporaries of `latest`. Only one save runs at a time, so none is in use.
void remove_leftovers(const fs::path& dir) {
  if (!fs::is_directory(dir)) return;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool step_leftover = name.rfind("step_", 0) == 0 && name.find('.') != std::string::npos;
    if (step_leftover || name.rfind(std::string(kLatestFile) + ".tmp.", 0) == 0) remove_all(entry.path().string());
  }
}

}  // namespace

std::string step_directory(const std::string& checkpoints_dir, int64_t step) {
  return (fs::path(checkpoints_dir) / ("step_" + std::to_string(step))).string();
}

std::string begin_checkpoint(const std::string& checkpoints_dir, int64_t step, const dist::Mesh& mesh) {
  const std::string staging = step_directory(checkpoints_dir, step) + kStagingSuffix;
  if (mesh.world().rank() == 0) {
    remove_leftovers(checkpoints_dir);
    create_directories(staging);
  }
  mesh.world().barrier();  // the staging directory exists before any rank writes into it
  return staging;
}

uint64_t write_checkpoint_files(const std::string& staging_dir, const CheckpointMeta& meta, const RankShards& shards,
                                const std::string& config_yaml, const dist::MeshCoords& c) {
  const bool model = c.dp == 0;
  const bool optimizer = c.dp == 0 || meta.zero > 0;
  const auto bytes_of = [](const NamedTensors& tensors) {
    uint64_t sum = 0;
    for (const auto& [name, tensor] : tensors) sum += tensor.nbytes();
    return sum;
  };
  const uint64_t bytes = (model ? bytes_of(shards.model) : 0) + (optimizer ? bytes_of(shards.optimizer) : 0);
  try {
    if (model) write_tensors(staging_dir + "/" + model_file(c.tp, c.pp), shards.model, shards.model_metadata);
    if (optimizer) {
      write_tensors(staging_dir + "/" + optimizer_file(c.tp, c.pp, c.dp), shards.optimizer, shards.optimizer_metadata);
    }
    if (c.tp == 0 && c.pp == 0 && c.dp == 0) write_file_atomic(staging_dir + "/" + kConfigFile, config_yaml);
  } catch (const IoError& e) {
    // A full disk or a refused write: say what this save needed, beside where and how much is free.
    throw IoError(std::string(e.what()) + "; this rank's files of checkpoint step " + std::to_string(meta.step) +
                      " need " + format_bytes(bytes) + " (the previous checkpoint and `latest` are untouched)",
                  e.hint());
  }
  return bytes;
}

std::string commit_checkpoint(const std::string& checkpoints_dir, const CheckpointMeta& meta, const dist::Mesh& mesh,
                              int64_t keep_last) {
  const std::string final_dir = step_directory(checkpoints_dir, meta.step);
  mesh.world().barrier();  // every rank's files are on disk (fsynced) before the directory can look complete
  if (mesh.world().rank() == 0) {
    const std::string staging = final_dir + kStagingSuffix;
    write_meta(staging, meta);
    fsync_directory(staging);
    // A step saved again (a resume from an earlier checkpoint) replaces the old directory; its
    // name is free for a moment, and `auto` then falls back to the other complete ones.
    if (fs::exists(final_dir)) rename_path(final_dir, final_dir + kReplacedSuffix);
    rename_path(staging, final_dir);
    fsync_directory(checkpoints_dir);
    write_file_atomic(checkpoints_dir + "/" + kLatestFile, fs::path(final_dir).filename().string() + "\n");
    remove_all(final_dir + kReplacedSuffix);
    if (keep_last > 0) {
      auto steps = step_directories(checkpoints_dir);
      for (size_t i = 0; i + keep_last < steps.size(); ++i) remove_directory(steps[i].second);
    }
  }
  mesh.world().barrier();
  return final_dir;
}

std::vector<std::string> resume_candidates(const std::string& resume, const std::string& checkpoints_dir) {
  if (resume.empty()) return {};
  const auto latest_in = [](const fs::path& dir) -> std::optional<std::string> {
    const fs::path latest = dir / kLatestFile;
    if (!fs::exists(latest)) return std::nullopt;
    std::string name = read_file(latest.string());
    name.erase(name.find_last_not_of(" \n\r\t") + 1);
    return (dir / name).string();
  };
  if (resume == "auto") {
    // `latest` first, then every other complete step directory, newest first.
    std::vector<std::string> out;
    if (auto latest = latest_in(checkpoints_dir); latest && fs::exists(fs::path(*latest) / kMetaFile)) {
      out.push_back(*latest);
    }
    auto steps = step_directories(checkpoints_dir);
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      if (out.empty() || it->second.string() != out.front()) out.push_back(it->second.string());
    }
    return out;
  }
  const fs::path path(resume);
  if (fs::exists(path / kMetaFile)) return {path.string()};
  if (auto step = latest_in(path)) {
    NF_CHECK(fs::exists(fs::path(*step) / kMetaFile), CheckpointError, "'", (path / kLatestFile).string(), "' names '",
             *step, "', which is not a complete checkpoint");
    return {*step};
  }
  throw CheckpointError("checkpoint.resume: '" + resume + "' is neither a step directory (with " + kMetaFile +
                            ") nor a checkpoints directory with a '" + kLatestFile + "' file",
                        "pass a runs/<name>/checkpoints/step_N directory, or auto");
}

ModelLayout read_model_layout(const std::string& step_dir) {
  const std::string path = step_dir + "/" + kConfigFile;
  NF_CHECK(fs::exists(path), CheckpointError, "checkpoint config '", path, "' is missing");
  try {
    config::Schema<ModelLayout> schema;
    model::declare_model_keys(schema, &ModelLayout::model);
    dist::declare_parallel_keys(schema, &ModelLayout::parallel);
    ModelLayout layout;
    schema.apply(layout, config::load_with_inheritance(path, {}), {}, config::UnknownKeys::kSkip);
    model::validate(layout.model);
    return layout;
  } catch (const ConfigError& e) {
    throw CheckpointError("checkpoint config '" + path + "' is invalid: " + e.what(),
                          "resume from another step directory");
  }
}

void check_same_model(const model::ModelConfig& saved, const model::ModelConfig& job, const std::string& source) {
  const auto check = [&](const char* key, const auto& saved_value, const auto& job_value) {
    if (saved_value == job_value) return;
    std::ostringstream message;
    message << std::boolalpha << "'" << source << "' was trained with " << key << " = " << saved_value
            << " but this job has " << key << " = " << job_value << "; a resumed run keeps the model";
    throw ModelMismatchError(message.str(),
                             "set " + std::string(key) + " as the checkpoint has it, or start a new run");
  };
  check("model.vocab_size", saved.vocab_size, job.vocab_size);
  check("model.d_model", saved.d_model, job.d_model);
  check("model.n_layers", saved.n_layers, job.n_layers);
  check("model.n_heads", saved.n_heads, job.n_heads);
  check("model.n_kv_heads", saved.kv_heads(), job.kv_heads());
  check("model.ffn_hidden", saved.ffn_dim(), job.ffn_dim());
  check("model.tie_embeddings", saved.tie_embeddings, job.tie_embeddings);
  check("model.rope_theta", saved.rope_theta, job.rope_theta);
  check("model.norm_eps", saved.norm_eps, job.norm_eps);
}

void check_same_adapters(const model::LoraConfig& saved, const model::LoraConfig& job, const std::string& source) {
  const auto describe = [](const model::LoraConfig& lora) {
    if (!lora.enabled()) return std::string("no LoRA (full fine-tuning)");
    std::ostringstream text;
    text << "LoRA rank " << lora.rank << ", alpha " << lora.alpha << " on [";
    for (size_t i = 0; i < lora.target_modules.size(); ++i) text << (i ? ", " : "") << lora.target_modules[i];
    return text.str() + "]";
  };
  if (!saved.enabled() && !job.enabled()) return;  // neither has adapters: their other keys mean nothing
  const auto sorted = [](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
  };
  NF_CHECK(
      saved.rank == job.rank && saved.alpha == job.alpha && sorted(saved.target_modules) == sorted(job.target_modules),
      ModelMismatchError, "'", source, "' was trained with ", describe(saved), " but this job has ", describe(job),
      "; a resumed run keeps its adapters: set model.lora as the checkpoint has it, or start a new run");
}

bool loads_as_saved(const CheckpointMeta& meta, const ModelLayout& saved, const ModelLayout& job,
                    const dist::MeshShape& shape) {
  if (meta.tp != shape.tp() || meta.pp != shape.pp()) return false;
  const auto stages = [&](const ModelLayout& config) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& stage : parallel::pp::partition_layers(config.model.n_layers, meta.pp, config.parallel.pp_layers))
      out.emplace_back(stage.first, stage.count);
    return out;
  };
  if (stages(saved) != stages(job)) return false;
  if (meta.zero == 0 || job.parallel.zero == 0) return meta.zero == job.parallel.zero;
  // ZeRO 3 cuts its buckets at the model's units, the same for every ZeRO 3 run of the model.
  if ((meta.zero == 3) != (job.parallel.zero == 3)) return false;
  if (meta.zero == 3) return meta.dp == shape.dp();
  // ZeRO 1 and 2 save the same flat shards; they match when the buckets and their split do.
  const auto bucket_numel = [](const ModelLayout& c) {
    return parallel::dp::bucket_numel_for(c.parallel.bucket_mb, sizeof(float));
  };
  return meta.dp == shape.dp() && bucket_numel(saved) == bucket_numel(job);
}

std::string layout_text(int64_t dp, int64_t tp, int64_t pp, int64_t zero) {
  return "dp " + std::to_string(dp) + ", tp " + std::to_string(tp) + ", pp " + std::to_string(pp) + ", zero " +
         std::to_string(zero);
}

LoadedCheckpoint load_checkpoint(const std::string& step_dir, const ModelLayout& job, const dist::Mesh& mesh,
                                 const std::vector<ParameterShard>& parameters) {
  LoadedCheckpoint out;
  out.step_dir = step_dir;
  out.meta = read_checkpoint_meta(step_dir);
  const ModelLayout saved = read_model_layout(step_dir);
  check_same_model(saved.model, job.model, step_dir + "/" + kConfigFile);
  check_same_adapters(saved.model.lora, job.model.lora, step_dir + "/" + kConfigFile);
  if (!loads_as_saved(out.meta, saved, job, mesh.shape())) {
    ReshardedState state = read_resharded(step_dir, out.meta, parameters, /*with_optimizer=*/true);
    out.model_shard = std::move(state.parameters);
    out.optimizer_state = std::move(state.optimizer_state);
    out.resharded = true;
    return out;
  }
  const dist::MeshCoords& c = mesh.coords();
  out.model_shard = read_own_file(step_dir, model_file(c.tp, c.pp), out.meta);  // the same for every dp rank
  out.optimizer_state = read_own_file(step_dir, optimizer_file(c.tp, c.pp, job.parallel.zero > 0 ? c.dp : 0), out.meta);
  return out;
}
void restore_tensors(const NamedTensors& target, const NamedTensors& saved, const std::string& source) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : saved) by_name[name] = &tensor;
  NF_CHECK(by_name.size() == target.size(), CheckpointError, "'", source, "' holds ", by_name.size(),
           " tensors but the model has ", target.size());
  at::NoGradGuard no_grad;
  for (const auto& [name, tensor] : target) {
    const auto it = by_name.find(name);
    NF_CHECK(it != by_name.end(), CheckpointError, "'", source, "' has no tensor '", name, "'");
    NF_CHECK(it->second->sizes() == tensor.sizes(), CheckpointError, "'", source, "': tensor '", name, "' has shape ",
             it->second->sizes(), " but the model's is ", tensor.sizes());
    at::Tensor destination = tensor;
    destination.copy_(*it->second);
  }
}

}  // namespace nf::ckpt
