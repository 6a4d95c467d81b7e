// Training checkpoints, sharded as the job runs: runs/<name>/checkpoints/step_N/ holds
//   meta.json                          step, data position, layout, tokenizer, counters, SHA-256 of
//                                      every file (rank 0)
//   config.yaml                        the run's resolved config (rank 0)
//   model-tp<t>-pp<p>.safetensors      the parameters this (tp, pp) coordinate holds (dp rank 0),
//                                      HF names; metadata "shard.<name>" = "dim index count full_size"
//   optim-tp<t>-pp<p>-dp<d>.safetensors  optimizer state of one rank (every dp rank under ZeRO)
// and checkpoints/latest names the newest complete step directory. Every rank writes into
// step_N.partial/; after a barrier rank 0 writes meta.json and renames the directory, then
// rewrites `latest`, so a save cut short never looks complete and `latest` never dangles.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nf/ckpt/safetensors.h"
#include "nf/data/sampler.h"
#include "nf/dist/mesh.h"

namespace nf::train {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct CheckpointMeta {
  int64_t step = 0;                // optimizer steps completed
  data::LoaderState loader;        // position of the training data stream after `step`
  int64_t tp = 1, pp = 1, dp = 1;  // layout the shards were written with
  int64_t zero = 0;
  std::string tokenizer_fingerprint;  // of the training dataset
  int64_t tokens_seen = 0;
  int64_t skipped_steps = 0;  // steps whose update was skipped for a non-finite loss
  int64_t bad_steps_in_a_row = 0;
  std::map<std::string, std::string> files;  // file name -> SHA-256, filled in by save_checkpoint
};

// "step_<N>" under `checkpoints_dir`.
std::string step_directory(const std::string& checkpoints_dir, int64_t step);

// Collective over the mesh's world. `model_shard` (with `model_metadata`) is written by dp rank 0 of each (tp, pp);
// `optimizer_state` by every rank when `meta.zero` > 0, else by dp rank 0. Keeps the newest
// `keep_last` step directories (0 = all). Returns the step directory.
std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointMeta& meta,
                            const NamedTensors& model_shard, const ckpt::Metadata& model_metadata,
                            const NamedTensors& optimizer_state, const std::string& config_yaml, const dist::Mesh& mesh,
                            int64_t keep_last);

// The full (unsharded) parameters of a step directory, gathered from its model files (every
// pipeline stage, every tensor-parallel shard by its "shard.<name>" metadata), for export; needs
// no MPI. CheckpointError for a damaged file.
std::map<std::string, at::Tensor> consolidate_model(const std::string& step_dir);

// The metadata value "dim index count full_size" of a shard.
std::string shard_metadata(int64_t dim, int64_t index, int64_t count, int64_t full_size);

// The meta.json of a step directory; CheckpointError when it is missing or malformed.
CheckpointMeta read_checkpoint_meta(const std::string& step_dir);

// The step directories to try, in order, for `resume`: "" = none; "auto" = the one `latest` names,
// then every other complete one, newest first (so a damaged newest checkpoint falls back to the
// one before); otherwise exactly the given step directory (or the `latest` of a checkpoints
// directory), which must exist: CheckpointError.
std::vector<std::string> resume_candidates(const std::string& resume, const std::string& checkpoints_dir);

struct LoadedCheckpoint {
  CheckpointMeta meta;
  NamedTensors model_shard;
  NamedTensors optimizer_state;
};

// Reads this rank's files of `step_dir` and checks them against the SHA-256 sums in meta.json.
// The layout must match the mesh's (CheckpointError otherwise, naming both layouts).
LoadedCheckpoint load_checkpoint(const std::string& step_dir, const dist::Mesh& mesh, int64_t zero);

// Copies `saved` into the same-named tensors of `target`; CheckpointError naming the file and a
// missing, extra or differently shaped tensor.
void restore_tensors(const NamedTensors& target, const NamedTensors& saved, const std::string& source);

}  // namespace nf::train
