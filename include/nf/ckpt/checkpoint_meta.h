// meta.json of a checkpoint's step directory (nf/ckpt/checkpoint.h has the whole layout), as plain
// data and back, without LibTorch: this layer's keys (format_version, step, layout, files,
// lora_base) beside the trainer's own state, which it keeps without reading. The file's "tensors"
// listing is written from the tensor files (checkpoint_files.cpp) and never read back.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace nf::ckpt {

struct CheckpointMeta {
  int64_t step = 0;                // optimizer steps completed
  int64_t tp = 1, pp = 1, dp = 1;  // layout the shards were written with
  int64_t zero = 0;
  std::map<std::string, std::string> files;  // file name -> SHA-256, filled in by commit_checkpoint
  // LoRA: the step directory or Hugging Face directory whose weights the adapters adapt (absolute),
  // pinned when the run started; empty otherwise (docs/lora.md).
  std::string lora_base;
  // The trainer's state after `step` (data position, counters, ...), opaque here: meta.json holds
  // its keys beside this layer's own (format_version, step, layout, files, tensors), which it may
  // not use.
  nlohmann::json trainer_state = nlohmann::json::object();
};

// meta.json's content for `meta`, without "tensors"; UsageError when the trainer's state holds one
// of this layer's keys.
nlohmann::json checkpoint_meta_to_json(const CheckpointMeta& meta);

// Parses `text`, the meta.json at `path`; CheckpointError naming `path` when it is malformed or of
// another format version.
CheckpointMeta checkpoint_meta_from_json(const std::string& text, const std::string& path);

// object[key] as an integer, for this layer's keys of meta.json and the trainer's: nlohmann's
// exception when it is missing, CheckpointError naming `path` when it is anything but an integer
// (converting a float such as 1e300 would be undefined behaviour).
int64_t checkpoint_meta_integer(const nlohmann::json& object, const char* key, const std::string& path);

}  // namespace nf::ckpt
