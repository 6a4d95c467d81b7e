// A run's starting weights (training.load_from, model.init_from): the parameters of an nf
// checkpoint, whatever tp/pp layout it was saved with, or of a Hugging Face directory, loaded into
// this rank's shards; no optimizer state, step or data position. The frozen DPO reference model
// starts from the same weights.
#pragma once

#include <string>
#include <vector>

#include "nf/ckpt/checkpoint.h"
#include "nf/dist/communicator.h"
#include "nf/model/model_config.h"

namespace nf::ckpt {

// The step directory `load_from` names: a step directory, a checkpoints directory (its `latest`)
// or a run directory (its checkpoints/latest). A relative path is looked up under `output_dir`
// first (so a run name such as `pretrain_tiny` finds runs/pretrain_tiny wherever output.dir
// points), then from the working directory. CheckpointError naming the key and the paths tried.
std::string resolve_load_from(const std::string& load_from, const std::string& output_dir);

// What `parameters` (model::named_parameters of a model of `config` split over `tp`, nullptr = none;
// or the views the trainer rebound them to) hold, as a checkpoint of another layout is read for
// them: name, full shape, this rank's slice (sharding.h).
std::vector<ParameterShard> parameter_shards(const model::ModelConfig& config, const dist::Communicator* tp,
                                             const NamedTensors& parameters);

// Copies the weights of `source`, an nf step directory or a Hugging Face directory
// (read_initial_parameters), into `parameters`: each rank reads the rows of its shards from the
// files that hold them. CheckpointError when the source's model differs from `config` (a missing
// tensor, another shape, another key of config.json). The tied output copy of a last pipeline
// stage is not touched: TiedEmbedding::sync_weight after.
void load_weights(const std::string& source, const model::ModelConfig& config, const dist::Communicator* tp,
                  const NamedTensors& parameters);

// load_weights for a model that is read whole (nf-generate): from a Hugging Face directory or a step
// directory, and from a LoRA step directory its adapters on the base they were trained on
// (lora.h's lora_base_of).
void load_model_weights(const std::string& source, const model::ModelConfig& config, const dist::Communicator* tp,
                        const NamedTensors& parameters);

}  // namespace nf::ckpt
