// The trainer's whole configuration: one struct per YAML section, one schema that binds every
// key to its member with a one-line doc, and the loader that applies presets, files and
// command-line overrides (precedence: command line > file > inherited files > defaults).
#pragma once

#include <string>
#include <vector>

#include "nf/core/config/schema.h"
#include "nf/core/logging.h"
#include "nf/dist/mesh_shape.h"
#include "nf/model/model_config.h"
#include "nf/model/recompute_mode.h"
#include "nf/optim/lr_schedule.h"

namespace nf::train {

// training.dtype: the compute precision.
enum class Precision { kAuto, kFp32, kBf16 };
// checkpoint.async: whether saves are written on a background thread.
enum class AsyncSaves { kAuto, kOn, kOff };

// training.vqvae: the NeuralFlow VQ-VAE's terms and codebook upkeep (docs/neuralflow.md).
struct VqvaeConfig {
  double beta_commit = 0.25;          // the commitment loss's weight
  double gamma_codebook = 1.0;        // the codebook loss's weight (not used with ema)
  double bag_of_words = 1.0;          // the bag-of-words loss's weight (nf's addition: against collapse)
  bool ema = false;                   // codes follow EMAs of their encoder outputs instead of a loss
  double ema_decay = 0.99;            // of the EMAs, and of each code's usage count
  bool restart_dead_codes = true;     // a code used less than dead_code_threshold restarts at a latent
  double dead_code_threshold = 0.01;  // paragraphs per step (the usage count's EMA)
};

// training.dynamics: the NeuralFlow brain's terms.
struct DynamicsConfig {
  double ponder_cost_weight = 0.01;  // ACT's ponder cost N + R, per prediction
};

struct TrainingConfig {
  std::string objective = "pretrain";  // what the run trains, one of objective_names() (docs/stages.md)
  bool document_mask = false;          // packed rows: attend only within each document
  std::string load_from;               // starting weights: a checkpoint (weights only), or "" = init
  int64_t seed = 1234;
  int64_t seq_len = 256;
  int64_t micro_batch_size = 4;
  int64_t global_batch_size = 32;
  int64_t max_steps = 1000;
  int64_t epochs = 0;  // > 0: max_steps from the dataset's size instead
  double learning_rate = 3e-4;
  double min_lr_ratio = 0.1;
  int64_t warmup_steps = 100;
  optim::LrDecay lr_schedule = optim::LrDecay::kCosine;
  double weight_decay = 0.1;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  double adam_eps = 1e-8;
  double grad_clip = 1.0;
  Precision dtype = Precision::kAuto;
  model::RecomputeMode recompute = model::RecomputeMode::kNone;
  int64_t recompute_interval = 1;
  int64_t log_interval = 10;
  int64_t eval_interval = 100;
  int64_t eval_steps = 10;
  int64_t max_bad_steps = 5;
  double peak_tflops = 0.0;
  std::string memory_limit;  // per rank, e.g. "80GB"; empty = the device's memory (planner.h)
  VqvaeConfig vqvae;
  DynamicsConfig dynamics;
};

// training.sample: completions written while training (docs/generation.md).
struct SampleConfig {
  int64_t interval = 0;  // 0 = off
  std::string prompts_file;
  int64_t max_new_tokens = 32;
  double temperature = 0.0;
};

struct DpoConfig {
  double beta = 0.1;
  double label_smoothing = 0.0;
};

struct CheckpointConfig {
  int64_t save_interval = 0;
  int64_t keep_last = 0;
  std::string resume;
  // The key model.init_from: a path read by the checkpoint code (hf_import.h), not a hyperparameter
  // of the model, so it lives here and ModelConfig stays what the model layer and the checks compare.
  std::string init_from;
  AsyncSaves async = AsyncSaves::kAuto;  // write saves on a background thread: true, false, auto = on CUDA only
  bool consolidate = false;              // write each save as one consolidated checkpoint (always synchronous)
};

struct DataConfig {
  std::string train_path;
  std::string val_path;
};

struct OutputConfig {
  std::string dir = "runs";
  std::string name;
};

struct LoggingConfig {
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;
};

struct TrainConfig {
  model::ModelConfig model;
  TrainingConfig training;
  SampleConfig sample;  // keys training.sample.*
  DpoConfig dpo;
  DataConfig data;
  CheckpointConfig checkpoint;
  dist::ParallelConfig parallel;
  OutputConfig output;
  LoggingConfig logging;
};

// The schema of TrainConfig: every key, its doc and constraints, in one place.
config::Schema<TrainConfig> train_schema();

// Loads `file` (with its inherit chain), applies `override_args` (e.g. {"--model.d_model",
// "256"}), and checks cross-field rules. `preset_dirs` are searched for `inherit: NAME`.
// An empty `file` means defaults plus overrides.
TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& override_args,
                              const std::vector<std::string>& preset_dirs);

// Cross-field checks that no single key can make (divisibility, seq_len <= max_seq_len).
void validate(const TrainConfig& config);

// The run's optimizer steps: training.max_steps, or with training.epochs > 0 the steps that pass
// over `samples_per_epoch` samples (dpo: pairs) that many times, ceil(epochs · samples / global batch).
int64_t resolve_max_steps(const TrainingConfig& training, uint64_t samples_per_epoch);

// Checks that need the world size: the mesh and the batch arithmetic over dp.
dist::MeshShape validate_layout(const TrainConfig& config, int64_t world_size);

// The resolved config as YAML text, as written next to a run's outputs.
std::string to_yaml_text(const TrainConfig& config);

// The run's output directory: output.dir / output.name (name defaults to the config file's stem).
std::string run_directory(const TrainConfig& config, const std::string& config_file);

}  // namespace nf::train

namespace nf::train {
// docs/config.md, whole: generated from the schema by `nf-train --config-doc`, and compared
// with the file by a test so the two cannot drift.
std::string config_reference_markdown();
}  // namespace nf::train
