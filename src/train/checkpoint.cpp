#include "nf/train/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "nf/ckpt/safetensors.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::train {
namespace {

namespace fs = std::filesystem;
constexpr int kFormatVersion = 1;
constexpr const char* kMetaFile = "meta.json";
constexpr const char* kLatestFile = "latest";
constexpr const char* kChecksumSuffix = ".sha256";
constexpr const char* kConfigFile = "config.yaml";

std::string model_file(const dist::MeshCoords& c) {
  return "model-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp) + ".safetensors";
}
std::string optimizer_file(const dist::MeshCoords& c) {
  return "optim-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp) + "-dp" + std::to_string(c.dp) +
         ".safetensors";
}

// A tensor file: safetensors (values bit for bit), with its SHA-256 in a sidecar until rank 0
// collects the sums into meta.json.
void write_tensors(const std::string& path, const NamedTensors& tensors, const ckpt::Metadata& metadata) {
  ckpt::NamedTensors cpu;
  for (const auto& [name, tensor] : tensors) cpu.emplace_back(name, tensor.detach().cpu().contiguous());
  ckpt::write_safetensors(path, cpu, metadata);
  write_file_atomic(path + kChecksumSuffix, sha256_file(path) + "\n");
}

// Reads a tensor file and checks it against the SHA-256 recorded in meta.json.
NamedTensors read_tensors(const std::string& path, const std::map<std::string, std::string>& checksums) {
  NF_CHECK(fs::exists(path), CheckpointError, "checkpoint file '", path, "' is missing");
  const auto expected = checksums.find(fs::path(path).filename().string());
  NF_CHECK(expected != checksums.end(), CheckpointError, "checkpoint file '", path, "' is not listed in meta.json");
  NF_CHECK(expected->second == sha256_file(path), CheckpointError, "checkpoint file '", path,
           "' does not match its SHA-256 in meta.json (truncated or corrupted)");
  return ckpt::SafetensorsFile(path).read_all();
}

nlohmann::json meta_to_json(const CheckpointMeta& m) {
  return {{"format_version", kFormatVersion},
          {"step", m.step},
          {"loader", data::loader_state_to_json(m.loader)},
          {"layout", {{"tp", m.tp}, {"pp", m.pp}, {"dp", m.dp}, {"zero", m.zero}}},
          {"tokenizer_fingerprint", m.tokenizer_fingerprint},
          {"tokens_seen", m.tokens_seen},
          {"skipped_steps", m.skipped_steps},
          {"bad_steps_in_a_row", m.bad_steps_in_a_row},
          {"files", m.files}};
}

CheckpointMeta meta_from_json(const std::string& path) {
  CheckpointMeta m;
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(path));
    NF_CHECK(j.at("format_version").get<int>() == kFormatVersion, CheckpointError, "'", path, "' has format_version ",
             j.at("format_version").dump(), ", this nf-train reads ", kFormatVersion);
    m.step = j.at("step").get<int64_t>();
    m.loader = data::loader_state_from_json(j.at("loader"), path);
    const auto& layout = j.at("layout");
    m.tp = layout.at("tp").get<int64_t>();
    m.pp = layout.at("pp").get<int64_t>();
    m.dp = layout.at("dp").get<int64_t>();
    m.zero = layout.at("zero").get<int64_t>();
    m.tokenizer_fingerprint = j.at("tokenizer_fingerprint").get<std::string>();
    m.tokens_seen = j.at("tokens_seen").get<int64_t>();
    m.skipped_steps = j.at("skipped_steps").get<int64_t>();
    m.bad_steps_in_a_row = j.at("bad_steps_in_a_row").get<int64_t>();
    m.files = j.at("files").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError("checkpoint metadata '" + path + "' is malformed: " + e.what(),
                          "resume from another step directory");
  }
  return m;
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

}  // namespace

std::string step_directory(const std::string& checkpoints_dir, int64_t step) {
  return (fs::path(checkpoints_dir) / ("step_" + std::to_string(step))).string();
}

std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointMeta& meta,
                            const NamedTensors& model_shard, const ckpt::Metadata& model_metadata,
                            const NamedTensors& optimizer_state, const std::string& config_yaml, const dist::Mesh& mesh,
                            int64_t keep_last) {
  const std::string final_dir = step_directory(checkpoints_dir, meta.step);
  const std::string partial = final_dir + ".partial";
  const bool root = mesh.world().rank() == 0;
  if (root) {
    fs::remove_all(partial);
    fs::create_directories(partial);
  }
  mesh.world().barrier();
  const dist::MeshCoords& coords = mesh.coords();
  if (coords.dp == 0) write_tensors(partial + "/" + model_file(coords), model_shard, model_metadata);
  if (coords.dp == 0 || meta.zero > 0) write_tensors(partial + "/" + optimizer_file(coords), optimizer_state, {});
  if (root) write_file_atomic(partial + "/" + kConfigFile, config_yaml);
  mesh.world().barrier();  // every shard is on disk before the directory can look complete
  if (root) {
    CheckpointMeta complete = meta;
    for (const auto& entry : fs::directory_iterator(partial)) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() != kChecksumSuffix) continue;  // every file has one but meta.json
      std::string digest = read_file(entry.path().string());
      digest.erase(digest.find_last_not_of("\n") + 1);
      complete.files[name.substr(0, name.size() - std::string(kChecksumSuffix).size())] = digest;
      fs::remove(entry.path());
    }
    write_file_atomic(partial + "/" + kMetaFile, meta_to_json(complete).dump(2) + "\n");
    fs::remove_all(final_dir);
    fs::rename(partial, final_dir);
    write_file_atomic(checkpoints_dir + "/" + kLatestFile, fs::path(final_dir).filename().string() + "\n");
    if (keep_last > 0) {
      auto steps = step_directories(checkpoints_dir);
      for (size_t i = 0; i + keep_last < steps.size(); ++i) fs::remove_all(steps[i].second);
    }
  }
  mesh.world().barrier();
  return final_dir;
}

CheckpointMeta read_checkpoint_meta(const std::string& step_dir) {
  const std::string path = step_dir + "/" + kMetaFile;
  NF_CHECK(fs::exists(path), CheckpointError, "'", step_dir, "' is not a complete checkpoint (no ", kMetaFile, ")");
  return meta_from_json(path);
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

LoadedCheckpoint load_checkpoint(const std::string& step_dir, const dist::Mesh& mesh, int64_t zero) {
  LoadedCheckpoint out;
  out.meta = meta_from_json(step_dir + "/" + kMetaFile);
  const dist::MeshShape& shape = mesh.shape();
  const auto& m = out.meta;
  NF_CHECK(m.tp == shape.tp() && m.pp == shape.pp() && m.dp == shape.dp() && m.zero == zero, CheckpointError,
           "checkpoint '", step_dir, "' was written with tp ", m.tp, ", pp ", m.pp, ", dp ", m.dp, ", zero ", m.zero,
           " but this job runs tp ", shape.tp(), ", pp ", shape.pp(), ", dp ", shape.dp(), ", zero ", zero,
           "; resume with the same layout");
  const dist::MeshCoords& coords = mesh.coords();
  out.model_shard = read_tensors(step_dir + "/" + model_file(coords), m.files);  // the same for every dp rank
  dist::MeshCoords optimizer_coords = coords;
  if (zero == 0) optimizer_coords.dp = 0;
  out.optimizer_state = read_tensors(step_dir + "/" + optimizer_file(optimizer_coords), m.files);
  return out;
}

std::string shard_metadata(int64_t dim, int64_t index, int64_t count, int64_t full_size) {
  return std::to_string(dim) + " " + std::to_string(index) + " " + std::to_string(count) + " " +
         std::to_string(full_size);
}

std::map<std::string, at::Tensor> consolidate_model(const std::string& step_dir) {
  const CheckpointMeta meta = meta_from_json(step_dir + "/" + kMetaFile);
  std::map<std::string, std::vector<at::Tensor>> shards;
  std::map<std::string, std::string> specs;
  // Pipeline stages hold disjoint parameters; within a stage, tp rank t holds shard t of each.
  for (int64_t p = 0; p < meta.pp; ++p) {
    for (int64_t t = 0; t < meta.tp; ++t) {
      dist::MeshCoords coords;
      coords.tp = t;
      coords.pp = p;
      const std::string path = step_dir + "/" + model_file(coords);
      for (auto& [name, tensor] : read_tensors(path, meta.files)) shards[name].push_back(tensor);
      const ckpt::SafetensorsFile file(path);
      for (const auto& [key, value] : file.metadata()) {
        if (key.rfind("shard.", 0) == 0) specs[key.substr(6)] = value;
      }
    }
  }
  std::map<std::string, at::Tensor> full;
  for (auto& [name, pieces] : shards) {
    const auto spec = specs.find(name);
    NF_CHECK(spec != specs.end(), CheckpointError, "'", step_dir, "': tensor '", name, "' has no shard metadata");
    int64_t dim = -1, index = 0, count = 1, full_size = 0;
    std::istringstream(spec->second) >> dim >> index >> count >> full_size;
    NF_CHECK(static_cast<int64_t>(pieces.size()) == meta.tp, CheckpointError, "'", step_dir, "': tensor '", name,
             "' is in ", pieces.size(), " of ", meta.tp, " model files");
    full[name] = dim < 0 ? pieces.front() : at::cat(pieces, dim).narrow(dim, 0, full_size).contiguous();
  }
  return full;
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

}  // namespace nf::train
