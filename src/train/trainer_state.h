// The trainer's own state in a checkpoint, beside the step and layout the ckpt layer keeps: where
// the data stream is, which tokenizer made its data, and the counters. The ckpt layer stores it in
// meta.json without reading it (CheckpointMeta::trainer_state). Private to src/train.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "nf/data/sampler.h"

namespace nf::train {

struct TrainerState {
  data::LoaderState loader;           // position of the training data stream after the step
  std::string tokenizer_fingerprint;  // of the training dataset
  int64_t tokens_seen = 0;
  int64_t skipped_steps = 0;  // steps whose update was skipped for a non-finite loss
  int64_t bad_steps_in_a_row = 0;
};

nlohmann::json trainer_state_to_json(const TrainerState& state);
// CheckpointError naming `source` (a meta.json) when a key is missing or of the wrong type.
TrainerState trainer_state_from_json(const nlohmann::json& json, const std::string& source);

}  // namespace nf::train
