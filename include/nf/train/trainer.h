// The training loop of one rank: the model, optimizer, LR schedule and data stream built from the
// config, micro-batch gradient accumulation, data-parallel gradient reduction, clipping,
// validation, metrics, checkpoints, exact resume and preemption.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "nf/core/logging.h"
#include "nf/dist/mesh.h"
#include "nf/train/config.h"

namespace nf::train {

struct TrainResult {
  int64_t step = 0;        // optimizer steps completed
  double last_loss = 0;    // training loss of the last step
  bool preempted = false;  // stopped by a signal after saving a checkpoint
  std::string checkpoint;  // the last step directory written
};

// Collective over `mesh`. Writes under `run_dir`: logs/train.log, metrics.jsonl, tensorboard/,
// checkpoints/. Throws DivergedError after training.max_bad_steps non-finite losses in a row.
TrainResult train(const TrainConfig& config, const std::string& run_dir, const dist::Mesh& mesh,
                  const c10::Device& device, Logger& log);

}  // namespace nf::train
