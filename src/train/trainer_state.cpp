// The trainer's checkpoint state as meta.json keys (trainer_state.h).
#include "trainer_state.h"

#include "nf/ckpt/checkpoint_meta.h"
#include "nf/core/error.h"

namespace nf::train {

nlohmann::json trainer_state_to_json(const TrainerState& state) {
  return {{"loader", data::loader_state_to_json(state.loader)},
          {"tokenizer_fingerprint", state.tokenizer_fingerprint},
          {"tokens_seen", state.tokens_seen},
          {"skipped_steps", state.skipped_steps},
          {"bad_steps_in_a_row", state.bad_steps_in_a_row}};
}

TrainerState trainer_state_from_json(const nlohmann::json& json, const std::string& source) {
  TrainerState state;
  try {
    state.loader = data::loader_state_from_json(json.at("loader"), source);
    state.tokenizer_fingerprint = json.at("tokenizer_fingerprint").get<std::string>();
    state.tokens_seen = ckpt::checkpoint_meta_integer(json, "tokens_seen", source);
    state.skipped_steps = ckpt::checkpoint_meta_integer(json, "skipped_steps", source);
    state.bad_steps_in_a_row = ckpt::checkpoint_meta_integer(json, "bad_steps_in_a_row", source);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError("checkpoint metadata '" + source + "' is malformed: " + e.what(),
                          "resume from another step directory");
  } catch (const DataError& e) {  // loader_state_from_json's: a checkpoint's, not a dataset's
    throw CheckpointError(e.what(), "resume from another step directory");
  }
  return state;
}

}  // namespace nf::train
