// File names, checksummed tensor files and meta.json of a step directory (checkpoint_files.h).
#include "checkpoint_files.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "nf/ckpt/checkpoint_layout.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/core/filesystem.h"
#include "nf/core/hash.h"

namespace nf::ckpt {
namespace {

namespace fs = std::filesystem;
constexpr const char* kChecksumSuffix = ".sha256";

// What meta.json lists of one tensor file, from its header: each tensor's name, dtype and shape,
// and for a tp slice of a parameter ("shard.<name>" metadata) its full shape and which slice it is.
nlohmann::json tensor_listing(const std::string& path) {
  const SafetensorsFile file(path);
  nlohmann::json listing = nlohmann::json::array();
  for (const TensorInfo& info : file.tensors()) {
    nlohmann::json tensor = {{"name", info.name}, {"dtype", safetensors_dtype_name(info.dtype)}, {"shape", info.shape}};
    const auto shard = file.metadata().find("shard." + info.name);
    if (shard != file.metadata().end()) {
      const parallel::tp::ShardSpec spec = parse_shard_metadata(shard->second, "'" + path + "'");
      std::vector<int64_t> full = info.shape;
      if (!spec.replicated()) full.at(spec.dim) = spec.full_size;
      tensor["global_shape"] = full;
      tensor["slice"] = {{"dim", spec.dim}, {"index", spec.index}, {"count", spec.count}};
    }
    listing.push_back(tensor);
  }
  return listing;
}

}  // namespace

std::string model_file(int64_t tp, int64_t pp) {
  return "model-tp" + std::to_string(tp) + "-pp" + std::to_string(pp) + ".safetensors";
}

std::string optimizer_file(int64_t tp, int64_t pp, int64_t dp) {
  return "optim-tp" + std::to_string(tp) + "-pp" + std::to_string(pp) + "-dp" + std::to_string(dp) + ".safetensors";
}

void write_tensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  NamedTensors cpu;
  for (const auto& [name, tensor] : tensors) cpu.emplace_back(name, tensor.detach().cpu().contiguous());
  write_checksum(path, write_safetensors(path, cpu, metadata));
}

void write_checksum(const std::string& path, const std::string& digest) {
  write_file_atomic(path + kChecksumSuffix, digest + "\n");
}

std::unique_ptr<SafetensorsFile> open_verified(const std::string& step_dir, const std::string& name,
                                               const CheckpointMeta& meta) {
  const std::string path = step_dir + "/" + name;
  NF_CHECK(fs::exists(path), CheckpointError, "checkpoint file '", path, "' is missing");
  const auto expected = meta.files.find(name);
  NF_CHECK(expected != meta.files.end(), CheckpointError, "checkpoint file '", path, "' is not listed in meta.json");
  NF_CHECK(expected->second == sha256_file(path), CheckpointError, "checkpoint file '", path,
           "' does not match its SHA-256 in meta.json (truncated or corrupted)");
  return std::make_unique<SafetensorsFile>(path);
}

void write_meta(const std::string& dir, const CheckpointMeta& meta) {
  CheckpointMeta complete = meta;
  complete.files.clear();
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != kChecksumSuffix) continue;  // every file has one but meta.json and config.yaml
    std::string digest = read_file(entry.path().string());
    digest.erase(digest.find_last_not_of("\n") + 1);
    complete.files[name.substr(0, name.size() - std::string(kChecksumSuffix).size())] = digest;
    remove_path(entry.path().string());
  }
  nlohmann::json json = checkpoint_meta_to_json(complete);
  for (const auto& [name, digest] : complete.files) json["tensors"][name] = tensor_listing(dir + "/" + name);
  write_file_atomic(dir + "/" + kMetaFile, json.dump(2) + "\n");
}

CheckpointMeta read_checkpoint_meta(const std::string& step_dir) {
  const std::string path = step_dir + "/" + kMetaFile;
  return checkpoint_meta_from_json(read_file(path), path);
}

}  // namespace nf::ckpt
