// The consolidated form of a training checkpoint: the checkpoint one rank
// would have written at the same step (full tensors under their Hugging Face names in
// model-tp0-pp0.safetensors, per-parameter AdamW moments in optim-tp0-pp0-dp0.safetensors,
// config.yaml and meta.json of the layout dp 1, tp 1, pp 1, zero 0), which nf-train resumes at
// any layout. nf-ckpt consolidate writes it from a sharded checkpoint (reshard.h); a job with
// checkpoint.consolidate writes it at save time (write_consolidated_files), gathering each tensor
// from the ranks that hold its pieces. Both give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/checkpoint_layout.h"
#include "nf/ckpt/safetensors.h"
#include "nf/dist/mesh.h"
#include "nf/model/model_config.h"

namespace nf::ckpt {

// What a consolidated checkpoint records instead of the layout that wrote it: the run's config.yaml
// text with parallel tp/pp 1, dp/zero 0 and no pp_layers, its other keys as they are
// (CheckpointError naming `source` when it is not YAML), and meta.json's layout 1/1/1/0.
std::string consolidated_config(const std::string& config_yaml, const std::string& source);
CheckpointMeta consolidated_meta(CheckpointMeta meta);

// Its model file's tensors: every parameter whole, in Hugging Face order, and their
// "shard.<name>" metadata (one shard each).
struct ConsolidatedModel {
  std::vector<ParameterShard> parameters;
  Metadata metadata;
};
ConsolidatedModel consolidated_model(const model::ModelConfig& config);

// Collective over the world, instead of write_checkpoint_files: writes the model and optimizer
// files of the consolidated checkpoint of the job's state into `staging_dir`, given every rank's
// `shards` (`zero`: its optimizer state is ZeRO's flat shard, placed by "piece.<name>" metadata).
// World rank 0 writes the model file and config.yaml (consolidated_config of the run's
// `config_yaml`) while the last rank writes the optimizer file; every rank sends them the pieces it
// holds (one tp slice of a parameter from dp rank 0; under ZeRO each dp rank's run of its moments), all posted at once
// as views of its state (on a GPU, host copies: the rank's shard). A writer assembles one full tensor at a time, never
// the whole model. Returns the bytes this rank wrote.
uint64_t write_consolidated_files(const std::string& staging_dir, const RankShards& shards, bool zero,
                                  const model::ModelConfig& config, const std::string& config_yaml,
                                  const dist::Mesh& mesh);

}  // namespace nf::ckpt
