// Chained training stages (docs/stages.md): a config's `stages:` list runs, for example,
// pretrain → sft → dpo in one nf-train job. Each entry is a name plus a config fragment (any
// sections and keys) over the file's own values:
//
//   stages:
//     - name: sft
//       training: {stage: sft, max_steps: 200, learning_rate: 2.0e-5}
//       data: {train_path: data/sft}
//
// Stage i writes to output.dir/output.name/<name>/ and, unless its entry sets training.load_from,
// starts from the final checkpoint of stage i − 1. A stage whose run already reached its max_steps
// is skipped, so re-running the job (a requeue) continues with the first unfinished stage.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nf/train/config.h"

namespace nf::train {

struct StagePlan {
  std::string name;     // the entry's name; empty for a config without `stages:`
  TrainConfig config;   // defaults < inherited files < the file < the entry < the command line
  std::string run_dir;  // output.dir/output.name/<name> (run_directory() without stages)
};

// The stages of `file` in order, or a single unnamed stage (the whole config) when it has no
// `stages:` list. `stages:` comes from the file or, if it has none, the nearest inherited file.
// A training.load_from of the file or the command line applies to the first stage only. Throws
// ConfigError naming file:line and the stage for a malformed list, a bad or repeated name, or an
// unknown key in an entry.
std::vector<StagePlan> load_stage_plan(const std::string& file, const std::vector<std::string>& override_args,
                                       const std::vector<std::string>& preset_dirs);

// The final checkpoint of a stage whose run is complete: its checkpoints/latest is at max_steps
// (training.epochs resolved against its dataset). nullopt when the stage has work left.
std::optional<std::string> completed_checkpoint(const StagePlan& stage);

}  // namespace nf::train
