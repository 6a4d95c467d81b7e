// Training checkpoints, sharded as the job runs: runs/<name>/checkpoints/step_N/ holds
//   meta.json                          step, data position, layout, tokenizer, counters, SHA-256 of
//                                      every file (rank 0)
//   model-tp<t>-pp<p>.bin              the parameters this (tp, pp) coordinate holds (dp rank 0)
//   optim-tp<t>-pp<p>-dp<d>.bin        optimizer state of one rank (every dp rank under ZeRO)
// and checkpoints/latest names the newest complete step directory. Every rank writes into
// step_N.partial/; after a barrier rank 0 writes meta.json and renames the directory, then
// rewrites `latest`, so a save cut short never looks complete and `latest` never dangles.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Tensor.h>

#include "nf/data/sampler.h"
#include "nf/dist/mesh.h"

namespace nf::train {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct CheckpointMeta {
  int64_t step = 0;                   // optimizer steps completed
  data::LoaderState loader;           // position of the training data stream after `step`
  int64_t tp = 1, pp = 1, dp = 1;     // layout the shards were written with
  int64_t zero = 0;
  std::string tokenizer_fingerprint;  // of the training dataset
  int64_t tokens_seen = 0;
  int64_t skipped_steps = 0;          // steps whose update was skipped for a non-finite loss
  int64_t bad_steps_in_a_row = 0;
  std::map<std::string, std::string> files;  // file name -> SHA-256, filled in by save_checkpoint
};

// "step_<N>" under `checkpoints_dir`.
std::string step_directory(const std::string& checkpoints_dir, int64_t step);

// Collective over the mesh's world. `model_shard` is written by dp rank 0 of each (tp, pp);
// `optimizer_state` by every rank when `meta.zero` > 0, else by dp rank 0. Keeps the newest
// `keep_last` step directories (0 = all). Returns the step directory.
std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointMeta& meta,
                            const NamedTensors& model_shard, const NamedTensors& optimizer_state,
                            const dist::Mesh& mesh, int64_t keep_last);

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
