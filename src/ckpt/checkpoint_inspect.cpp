// nf-ckpt inspect of a step directory (checkpoint.h): every file checked against meta.json.
#include <c10/util/accumulate.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "checkpoint_files.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/core/hash.h"

namespace nf::ckpt {

int inspect_checkpoint(const std::string& step_dir, std::ostream& out) {
  namespace fs = std::filesystem;
  const CheckpointMeta meta = read_checkpoint_meta(step_dir);
  out << step_dir << ": step " << meta.step << ", layout " << layout_text(meta.dp, meta.tp, meta.pp, meta.zero)
      << "\n  trainer state:";
  for (const auto& [key, value] : meta.trainer_state.items()) out << " " << key << " " << value.dump();
  out << "\n";
  int damaged = 0;
  uint64_t total = 0;
  for (const auto& [name, digest] : meta.files) {
    const fs::path path = fs::path(step_dir) / name;
    if (!fs::exists(path)) {
      out << name << ": MISSING\n";
      ++damaged;
      continue;
    }
    const bool intact = sha256_file(path.string()) == digest;
    damaged += intact ? 0 : 1;
    total += fs::file_size(path);
    out << name << ": " << fs::file_size(path) << " bytes, SHA-256 "
        << (intact ? "ok" : "MISMATCH (corrupted or truncated)") << "\n";
    if (!intact) continue;
    const SafetensorsFile file(path.string());
    for (const TensorInfo& tensor : file.tensors()) {
      out << "  " << tensor.name << "  " << safetensors_dtype_name(tensor.dtype) << " "
          << c10::IntArrayRef(tensor.shape) << "  " << tensor.end - tensor.begin << " bytes\n";
    }
  }
  out << meta.files.size() << " files, " << total << " bytes; "
      << (damaged == 0 ? "every file matches meta.json" : std::to_string(damaged) + " missing or damaged") << "\n";
  return damaged;
}

}  // namespace nf::ckpt
