// Which checkpoint a job resumes from (checkpoint.resume): the policy, apart from what the job
// does with the tensors it reads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nf/ckpt/checkpoint.h"
#include "nf/core/logging.h"
#include "nf/dist/mesh.h"

namespace nf::ckpt {

// Puts a loaded checkpoint's tensors in place (the parameters, the optimizer state); it may
// throw CheckpointError too, which counts as the checkpoint being damaged.
using RestoreFunction = std::function<void(const LoadedCheckpoint& loaded, const std::string& step_dir)>;

// Collective over the world. The first of resume_candidates(`resume`, `checkpoints_dir`) that every
// rank reads (load_checkpoint for `job` and `parameters`) and restores intact, or nullopt when
// there is none to try. Under `auto` a damaged checkpoint (on any rank) is skipped with a warning
// and the next is tried; a named one that is damaged, a checkpoint of another model
// (ModelMismatchError: falling back past it would resume the wrong run) and no intact one among
// several are errors. Logs what it resumes and any resharding.
std::optional<LoadedCheckpoint> resume(const std::string& resume, const std::string& checkpoints_dir,
                                       const ModelLayout& job, const dist::Mesh& mesh,
                                       const std::vector<ParameterShard>& parameters, const RestoreFunction& restore,
                                       Logger& log);

}  // namespace nf::ckpt
