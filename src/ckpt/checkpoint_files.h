// The files of a step directory (nf/ckpt/checkpoint.h), shared by saving, loading, resharding and
// consolidating: their names, a tensor file written with its SHA-256 sidecar, a tensor file opened
// only after checking it against meta.json, and meta.json itself. Private to src/ckpt.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/safetensors.h"

namespace nf::ckpt {

inline constexpr const char* kMetaFile = "meta.json";
inline constexpr const char* kConfigFile = "config.yaml";

std::string model_file(int64_t tp, int64_t pp);
std::string optimizer_file(int64_t tp, int64_t pp, int64_t dp);

// Writes a safetensors file (values bit for bit) and its checksum (write_checksum).
void write_tensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata);
// Writes PATH.sha256 holding `digest`, the SHA-256 its writer computed (SafetensorsStreamWriter::
// commit), which write_meta later collects into meta.json.
void write_checksum(const std::string& path, const std::string& digest);

// Opens DIR/NAME after checking it against the SHA-256 that `meta` lists for NAME; CheckpointError
// naming the file when it is missing, unlisted, truncated or corrupted.
std::unique_ptr<SafetensorsFile> open_verified(const std::string& step_dir, const std::string& name,
                                               const CheckpointMeta& meta);

// Writes DIR/meta.json: `meta` with `files` taken from the sidecars in DIR, which it removes.
void write_meta(const std::string& dir, const CheckpointMeta& meta);

}  // namespace nf::ckpt
