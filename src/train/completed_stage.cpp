// Whether a stage of a plan (stages.h) already ran to its end: its latest checkpoint against its
// max_steps.
#include "nf/ckpt/checkpoint.h"
#include "nf/data/data_loader.h"
#include "nf/data/token_dataset.h"
#include "nf/train/stages.h"
#include "objective_spec.h"
#include "training_data.h"

namespace nf::train {

std::optional<std::string> completed_checkpoint(const StagePlan& stage) {
  const std::vector<std::string> saved = ckpt::resume_candidates("auto", stage.run_dir + "/checkpoints");
  if (saved.empty()) return std::nullopt;
  const TrainConfig& config = stage.config;
  uint64_t samples = 0;
  if (config.training.epochs > 0) {
    const data::TokenDataset dataset(config.data.train_path, data::TokenDatasetOptions());
    samples = data::samples_per_epoch(dataset, loader_options(config, find_objective(config.training.objective)));
  }
  if (ckpt::read_checkpoint_meta(saved.front()).step < resolve_max_steps(config.training, samples)) return std::nullopt;
  return saved.front();
}

}  // namespace nf::train
