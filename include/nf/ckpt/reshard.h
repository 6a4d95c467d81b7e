// Reading a training checkpoint into another layout, and writing it as one layout-independent
// checkpoint. Needs no MPI: each rank (or the offline tool) reads the files it needs itself.
//
// A saved run's files hold each parameter as tp slices of the pipeline stage that had it, and its
// AdamW moments either per parameter (zero 0) or as every dp rank's chunk of the flat buckets
// (ZeRO 1/2, whose "piece.<name>" metadata says where each parameter's elements are). Resharding
// plans (checkpoint_layout.h) which saved files hold the rows of the parameters a rank wants,
// reads and checksums only those, reassembles ZeRO pieces into per-parameter moments, and copies
// each saved slice's rows into the rank's own slice. The fp32 master of ZeRO equals the fp32
// parameters (they are all-gathered from it after every step), so it is rebuilt from them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nf/ckpt/checkpoint.h"

namespace nf::ckpt {

struct ReshardedState {
  NamedTensors parameters;       // one per target, in target order, the target's shard shape and the saved dtype
  NamedTensors optimizer_state;  // optim::AdamW::state()'s form: "step", "<name>.exp_avg", "<name>.exp_avg_sq"
};

// The targets' tensors from `step_dir` (whose meta.json is `meta`), and with `with_optimizer` their
// AdamW state. Rows of a target that are tp padding stay zero. CheckpointError naming the file and
// tensor for a damaged or missing file, a tensor not in the checkpoint, or ZeRO pieces that do
// not cover a parameter (an optimizer file written before nf-train recorded them).
ReshardedState read_resharded(const std::string& step_dir, const CheckpointMeta& meta,
                              const std::vector<ParameterShard>& targets, bool with_optimizer);

// Opens the model file that holds the tensors of saved coordinate (tp, pp) (SavedTensor::stage).
using ModelFileOpener = std::function<std::shared_ptr<const SafetensorsFile>(int64_t tp, int64_t pp)>;

// The targets' tensors from model files of any origin (a training checkpoint, a Hugging Face
// directory whose files play the part of stages): `saved` lists every tensor with its file's
// coordinate and split (`saved_tp` tp shards), `open` opens a file, `source` names them in errors.
// Only the files holding some of the targets' rows are opened.
NamedTensors read_parameters(const std::vector<SavedTensor>& saved, int64_t saved_tp,
                             const std::vector<ParameterShard>& targets, const ModelFileOpener& open,
                             const std::string& source);

// The full (unsharded) parameters of a step directory under their Hugging Face names, gathered
// from every stage and tp slice by their "shard.<name>" metadata, for export, in as many batches
// as the caller likes: meta.json and the headers are read once, and each model file is checked
// against its SHA-256 the first time a batch needs it, then kept open (memory-mapped), so every
// file is read and hashed once however the parameters are asked for.
class ModelReader {
 public:
  explicit ModelReader(std::string step_dir);
  // The parameters in `names` (the files holding none of them are not opened), or every one when
  // `names` is empty.
  std::map<std::string, at::Tensor> read(const std::vector<std::string>& names = {});

 private:
  std::string step_dir_;
  CheckpointMeta meta_;
  std::vector<SavedTensor> saved_;
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const SafetensorsFile>> opened_;  // by (tp, pp)
};

// Writes `step_dir` as the checkpoint one rank would have written at the same step: full
// parameters and per-parameter AdamW state in model-tp0-pp0.safetensors and
// optim-tp0-pp0-dp0.safetensors, config.yaml with parallel.tp/pp/zero 1/1/0 and no pp_layers,
// meta.json with the layout 1/1/1/0 and the saved data position, step and counters. nf-train
// resumes from it with any layout. Staged in OUT_DIR.partial.<pid> and renamed to `out_dir`, which
// must not exist or be empty (UsageError). Returns the number of parameters written.
size_t consolidate_checkpoint(const std::string& step_dir, const std::string& out_dir);

}  // namespace nf::ckpt
