// A run's starting weights (training.load_from): the parameters of a checkpoint, whatever tp/pp
// layout it was saved with, loaded into this rank's shards; no optimizer state, step or data
// position. The frozen DPO reference model starts from the same weights. Private to src/train.
#pragma once

#include <string>

#include "nf/model/transformer.h"
#include "nf/train/checkpoint.h"

namespace nf::train {

// The step directory `load_from` names: a step directory, a checkpoints directory (its `latest`)
// or a run directory (its checkpoints/latest). A relative path is looked up under `output_dir`
// first (so a run name such as `pretrain_tiny` finds runs/pretrain_tiny wherever output.dir
// points), then from the working directory. CheckpointError naming the key and the paths tried.
std::string resolve_load_from(const std::string& load_from, const std::string& output_dir);

// Copies the weights of `step_dir` into `parameters` (model::named_parameters of `model`, or the
// views the trainer rebound them to): each rank takes its shard (model.shard_spec_of) of the
// consolidated tensor. CheckpointError when the checkpoint's model differs from `model`'s config
// (a missing tensor, another shape, another parameter count). Returns the checkpoint's meta. The
// tied output copy of a last pipeline stage is not touched: TiedEmbedding::sync_weight after.
CheckpointMeta load_weights(const std::string& step_dir, const model::CausalLMImpl& model,
                            const NamedTensors& parameters);

}  // namespace nf::train
