// The data a run trains and validates on: the training split checked against the objective and
// against the tokenizer of the weights it starts from, its loader (resumed at a saved position),
// the validation split, and the run's number of steps. Private to src/train.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nf/core/logging.h"
#include "nf/data/data_loader.h"
#include "nf/data/token_dataset.h"
#include "nf/dist/mesh.h"
#include "nf/train/config.h"
#include "objective.h"

namespace nf::train {

struct TrainingData {
  std::unique_ptr<data::DataLoader> loader;
  data::LoaderOptions loader_options;
  std::shared_ptr<const data::TokenDataset> validation;  // null: no validation
  std::string tokenizer_fingerprint;                     // of the training split
  int64_t max_steps = 0;                                 // training.max_steps, or from training.epochs
};

// What the run starts from, for the checks: a resumed run's data position and tokenizer (null:
// not resumed), and the tokenizer of the data training.load_from's weights were trained on ("":
// none to check).
struct DataStart {
  const data::LoaderState* resumed = nullptr;
  std::string resumed_fingerprint;
  std::string load_from, load_from_fingerprint;
};

// Opens data.train_path (and the validation split) for `objective`; ConfigError/DataError naming
// the path when its format does not fit the objective or its tokenizer differs.
TrainingData open_training_data(const TrainConfig& config, const ObjectiveSpec& objective, const dist::Mesh& mesh,
                                const DataStart& start, Logger& log);

// The loader's shape for `config`: seq_len, batch, seed, document ids, and for model.arch
// neuralflow the paragraph slots (seq_len = max_paragraphs · max_paragraph_len), whose eos id
// open_training_data takes from the dataset's tokenizer.
data::LoaderOptions loader_options(const TrainConfig& config, const ObjectiveSpec& objective);

// The dataset formats `objective` trains on; ConfigError naming the stage, the path and the fix.
void check_objective_data(const ObjectiveSpec& objective, data::DatasetFormat format, const std::string& path);

}  // namespace nf::train
