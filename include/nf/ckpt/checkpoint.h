// Training checkpoints, sharded as the job runs: runs/<name>/checkpoints/step_N/ holds
//   meta.json                          step, layout, SHA-256 of every file, every tensor of every
//                                      file (name, dtype, shape, global shape and tp slice), and the
//                                      trainer's own state (data position, tokenizer, counters), which
//                                      this layer keeps without reading it (rank 0)
//   config.yaml                        the run's resolved config (rank 0); this layer reads only its
//                                      model and parallel sections (ModelLayout)
//   model-tp<t>-pp<p>.safetensors      the parameters this (tp, pp) coordinate holds (dp rank 0),
//                                      HF names; metadata "shard.<name>" = "dim index count full_size"
//   optim-tp<t>-pp<p>-dp<d>.safetensors  optimizer state of one rank (every dp rank under ZeRO, whose
//                                      metadata "piece.<name>" maps its flat tensors to parameters)
// and checkpoints/latest names the newest complete step directory. Every rank writes (and fsyncs)
// its files in step_N.partial/; after a barrier rank 0 writes meta.json, renames the directory,
// fsyncs checkpoints/, then replaces `latest` (temporary + fsync + rename), so a save cut short
// never looks complete and `latest` always names a complete checkpoint.
// A job with another layout (tp, pp, dp, ZeRO stage, pipeline split) loads it through
// nf/ckpt/reshard.h; checkpoint_layout.h has the arithmetic of both metadata formats.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nf/ckpt/checkpoint_layout.h"
#include "nf/ckpt/checkpoint_meta.h"
#include "nf/ckpt/safetensors.h"
#include "nf/core/error.h"
#include "nf/dist/mesh.h"
#include "nf/model/model_config.h"

namespace nf::ckpt {

// What the checkpoint code knows of a job: its model and how it is laid out over the ranks (the
// `model` and `parallel` sections of its config), nothing of how it trains.
struct ModelLayout {
  model::ModelConfig model;
  dist::ParallelConfig parallel;
};

// "step_<N>" under `checkpoints_dir`.
std::string step_directory(const std::string& checkpoints_dir, int64_t step);

// What one rank contributes to a checkpoint.
struct RankShards {
  NamedTensors model;           // written by dp rank 0 of each (tp, pp)
  Metadata model_metadata;      // "shard.<name>" for every tensor
  NamedTensors optimizer;       // written by every rank when meta.zero > 0, else by dp rank 0
  Metadata optimizer_metadata;  // ZeRO: "piece.<name>" (zero_piece_metadata)
};

// A save is three calls, so that the writing can run on a background thread (checkpoint.async;
// the trainer's CheckpointSaver makes them). Collective: rank 0 removes what saves cut short left behind and creates
// the staging directory step_N.partial, which it returns.
std::string begin_checkpoint(const std::string& checkpoints_dir, int64_t step, const dist::Mesh& mesh);
// This rank's files (fsynced) into the staging directory; returns the bytes of tensor data it
// wrote. No communication.
uint64_t write_checkpoint_files(const std::string& staging_dir, const CheckpointMeta& meta, const RankShards& shards,
                                const std::string& config_yaml, const dist::MeshCoords& coords);
// Collective, once every rank's files are written: rank 0 adds meta.json, renames step_N.partial
// to step_N, points `latest` at it (fsyncing each) and prunes to the newest `keep_last` step
// directories (0 = all). Returns the step directory.
std::string commit_checkpoint(const std::string& checkpoints_dir, const CheckpointMeta& meta, const dist::Mesh& mesh,
                              int64_t keep_last);

// meta.json of a step directory; CheckpointError when it is malformed or of another format version.
CheckpointMeta read_checkpoint_meta(const std::string& step_dir);
// The model and parallel sections of a step directory's config.yaml (its other sections are the
// trainer's); CheckpointError naming it when it is missing or invalid.
ModelLayout read_model_layout(const std::string& step_dir);

// A checkpoint of another model: not damaged, so `--resume auto` stops on it instead of falling back.
class ModelMismatchError : public CheckpointError {
 public:
  using CheckpointError::CheckpointError;
};

// Refuses (ModelMismatchError naming `source` and the key, with both values) a checkpoint whose model
// differs from the job's in a key that shapes its parameters or its function. max_seq_len and
// init_std may change: one only bounds the positions a batch uses, the other only the
// initialization that a resume replaces.
void check_same_model(const model::ModelConfig& saved, const model::ModelConfig& job, const std::string& source);
// The same for a resume's LoRA adapters (model.lora: rank, alpha, targets), which weights-only loads
// do not compare (a LoRA run starts from a whole model's checkpoint).
void check_same_adapters(const model::LoraConfig& saved, const model::LoraConfig& job, const std::string& source);

// Whether a job can load a checkpoint's files as they are: the same tp and pp and stage split,
// and the same optimizer-state form (zero 0 on both sides: per parameter, any dp; ZeRO on both:
// per-rank flat shards, which need the same dp and bucket size). Otherwise it reshards.
bool loads_as_saved(const CheckpointMeta& meta, const ModelLayout& saved, const ModelLayout& job,
                    const dist::MeshShape& shape);

// "dp 2, tp 2, pp 2, zero 1", for log lines.
std::string layout_text(int64_t dp, int64_t tp, int64_t pp, int64_t zero);

// The step directories to try, in order, for `resume`: "" = none; "auto" = the one `latest` names,
// then every other complete one, newest first (so a damaged newest checkpoint falls back to the
// one before); otherwise exactly the given step directory (or the `latest` of a checkpoints
// directory), which must exist: CheckpointError.
std::vector<std::string> resume_candidates(const std::string& resume, const std::string& checkpoints_dir);

struct LoadedCheckpoint {
  std::string step_dir;  // where it was read from
  CheckpointMeta meta;
  NamedTensors model_shard;  // this rank's parameters
  // false: this rank's optimizer file as saved (for ShardedAdamW::load_state under ZeRO);
  // true: per parameter, in optim::AdamW::state()'s form (for ShardedAdamW::load_full_state).
  // optim::AdamW::load_state reads both.
  bool resharded = false;
  NamedTensors optimizer_state;
};

// Reads what this rank needs of `step_dir`, every file checked against its SHA-256 in meta.json,
// after check_same_model. `parameters`: the tensors the rank holds (name, full shape, tp slice),
// in the job's layout. When loads_as_saved, these are its own files; otherwise it reshards
// (read_resharded): the parameters and per-parameter optimizer state are rebuilt from the saved
// files that hold them, whatever layout and ZeRO stage wrote them.
LoadedCheckpoint load_checkpoint(const std::string& step_dir, const ModelLayout& job, const dist::Mesh& mesh,
                                 const std::vector<ParameterShard>& parameters);

// nf-ckpt inspect of a step directory: writes its step, layout, data position and counters, then
// each file meta.json lists with its size, whether it matches its SHA-256, and its tensors (name,
// dtype, shape, bytes), to `out`. Returns the number of files missing or not matching (0: intact).
int inspect_checkpoint(const std::string& step_dir, std::ostream& out);

// Copies `saved` into the same-named tensors of `target`; CheckpointError naming the file and a
// missing, extra or differently shaped tensor.
void restore_tensors(const NamedTensors& target, const NamedTensors& saved, const std::string& source);

}  // namespace nf::ckpt
