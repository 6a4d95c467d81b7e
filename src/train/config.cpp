// The trainer's config schema (every key documented once: here, or for the model and parallel
// sections in model/model_keys.h and dist/parallel_keys.h) and its loader.
#include "nf/train/config.h"

#include <filesystem>

#include "nf/core/error.h"
#include "nf/dist/parallel_keys.h"
#include "nf/model/model_keys.h"
#include "nf/parallel/pp/schedule.h"
#include "objective_spec.h"

namespace nf::train {

config::Schema<TrainConfig> train_schema() {
  using C = TrainConfig;
  config::Schema<TrainConfig> s;

  model::declare_model_keys(s, &C::model);
  s.field(&C::checkpoint, &CheckpointConfig::init_from, "model.init_from",
          "Initial weights: a Hugging Face Llama directory (config.json must match this model) or an nf step "
          "directory; empty = random init. A resumed checkpoint takes precedence.");

  s.field(&C::training, &TrainingConfig::objective, "training.objective",
          "What the run trains: pretrain or sft (next-token loss on the dataset's counted tokens), dpo (preference "
          "pairs against a frozen reference model); the dataset's format must fit (docs/stages.md).")
      .one_of(objective_names())
      .also_named("training.stage");
  s.field(&C::training, &TrainingConfig::document_mask, "training.document_mask",
          "Packed rows (pretrain, sft): each token attends only to earlier tokens of its own document (conversation), "
          "not to the end of the previous one in the same row; false = causal over the whole row.");
  s.field(&C::training, &TrainingConfig::load_from, "training.load_from",
          "Start from the weights of a checkpoint (a step directory, a checkpoints directory or a run directory; a "
          "relative path is looked up under output.dir first), with a fresh optimizer, schedule and data position; "
          "any layout. Empty = initialize from training.seed. A resumed run ignores it.");
  s.field(&C::training, &TrainingConfig::seed, "training.seed",
          "Seed of weight init and sample order; the layout never changes them.")
      .at_least(0);
  s.field(&C::training, &TrainingConfig::seq_len, "training.seq_len",
          "Tokens per training sequence (≤ model.max_seq_len).")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::micro_batch_size, "training.micro_batch_size",
          "Sequences (dpo: pairs) per forward/backward on one data-parallel rank.")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::global_batch_size, "training.global_batch_size",
          "Sequences (dpo: pairs) per optimizer step over all data-parallel ranks; the rest is gradient accumulation.")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::max_steps, "training.max_steps", "Optimizer steps to train.").at_least(1);
  s.field(&C::training, &TrainingConfig::epochs, "training.epochs",
          "Passes over the training data; > 0 sets max_steps = ceil(epochs · samples / global_batch_size). 0 = use "
          "training.max_steps.")
      .at_least(0);
  s.field(&C::training, &TrainingConfig::learning_rate, "training.learning_rate", "Peak learning rate.").at_least(0);
  s.field(&C::training, &TrainingConfig::min_lr_ratio, "training.min_lr_ratio",
          "Final learning rate as a fraction of the peak (cosine, linear).")
      .at_least(0)
      .at_most(1);
  s.field(&C::training, &TrainingConfig::warmup_steps, "training.warmup_steps",
          "Linear warmup steps from 0 to the peak learning rate.")
      .at_least(0);
  s.enum_field(&C::training, &TrainingConfig::lr_schedule, "training.lr_schedule", "Learning-rate decay after warmup.",
               optim::lr_decay_names());
  s.field(&C::training, &TrainingConfig::weight_decay, "training.weight_decay",
          "AdamW decoupled weight decay (not applied to norms and embeddings).")
      .at_least(0);
  s.field(&C::training, &TrainingConfig::adam_beta1, "training.adam_beta1", "AdamW beta1.").at_least(0).at_most(1);
  s.field(&C::training, &TrainingConfig::adam_beta2, "training.adam_beta2", "AdamW beta2.").at_least(0).at_most(1);
  s.field(&C::training, &TrainingConfig::adam_eps, "training.adam_eps", "AdamW epsilon.").at_least(0);
  s.field(&C::training, &TrainingConfig::grad_clip, "training.grad_clip",
          "Clip the global gradient norm to this; 0 = no clipping.")
      .at_least(0);
  s.enum_field(&C::training, &TrainingConfig::dtype, "training.dtype",
               "Compute precision; auto = bf16 autocast on CUDA, fp32 on CPU.",
               {{"auto", Precision::kAuto}, {"fp32", Precision::kFp32}, {"bf16", Precision::kBf16}});
  s.enum_field(&C::training, &TrainingConfig::recompute, "training.recompute",
               "Activation recomputation: none; selective = recompute attention's core in backward (Megatron's "
               "choice); full = each block keeps only its input and runs its forward again in backward "
               "(docs/memory.md).",
               model::recompute_mode_names());
  s.field(&C::training, &TrainingConfig::recompute_interval, "training.recompute_interval",
          "With training.recompute full: only every N-th decoder block (layers 0, N, 2N, ...) recomputes; 1 = all.")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::log_interval, "training.log_interval",
          "Steps between log lines and metrics records.")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::eval_interval, "training.eval_interval",
          "Steps between validation-loss evaluations; 0 = never.")
      .at_least(0);
  s.field(&C::training, &TrainingConfig::eval_steps, "training.eval_steps", "Batches per validation-loss evaluation.")
      .at_least(1);

  s.field(&C::training, &TrainingConfig::max_bad_steps, "training.max_bad_steps",
          "A non-finite loss skips its update; this many in a row stop the run (exit code 7).")
      .at_least(1);
  s.field(&C::training, &TrainingConfig::peak_tflops, "training.peak_tflops",
          "Peak TFLOP/s of one device, the denominator of MFU; 0 = H100 bf16 on CUDA, not shown on CPU.")
      .at_least(0);

  s.field(&C::training, &TrainingConfig::memory_limit, "training.memory_limit",
          "Memory one rank may use, e.g. 80GB or 512MiB; a layout the planner predicts above it stops before "
          "training (docs/memory.md). Empty = the device's memory (a GPU's, or the node's RAM shared by its ranks).");

  using Vq = VqvaeConfig;
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::beta_commit, "training.vqvae.beta_commit",
                 "neuralflow: weight of the commitment loss, which keeps encoder latents near their codes.")
      .at_least(0);
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::gamma_codebook, "training.vqvae.gamma_codebook",
                 "neuralflow: weight of the codebook loss, which moves codes towards their latents (not used with "
                 "training.vqvae.ema).")
      .at_least(0);
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::bag_of_words, "training.vqvae.bag_of_words",
                 "neuralflow: weight of the bag-of-words loss, each paragraph's tokens predicted from its latent "
                 "alone (nf's addition: it keeps the decoder from learning to ignore the latent); 0 = off.")
      .at_least(0);
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::ema, "training.vqvae.ema",
                 "neuralflow: codes follow exponential moving averages of their latents (the guide's FAQ fix for a "
                 "low perplexity) instead of the codebook loss.");
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::ema_decay, "training.vqvae.ema_decay",
                 "neuralflow: decay of the codebook EMAs and of each code's usage count.")
      .at_least(0)
      .at_most(1);
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::restart_dead_codes, "training.vqvae.restart_dead_codes",
                 "neuralflow: each step, codes whose usage count fell below training.vqvae.dead_code_threshold "
                 "restart at the global batch's worst-quantized latents.");
  s.nested_field(&C::training, &TrainingConfig::vqvae, &Vq::dead_code_threshold, "training.vqvae.dead_code_threshold",
                 "neuralflow: a code is dead below this usage count (an EMA of the paragraphs it quantizes per "
                 "step).")
      .at_least(0);
  s.nested_field(&C::training, &TrainingConfig::dynamics, &DynamicsConfig::ponder_cost_weight,
                 "training.dynamics.ponder_cost_weight",
                 "neuralflow: weight of ACT's ponder cost (thinking steps + remainder per prediction).")
      .at_least(0);

  s.field(&C::sample, &SampleConfig::interval, "training.sample.interval",
          "Steps between samples: the model completes each prompt of training.sample.prompts_file into "
          "samples.jsonl and TensorBoard text (docs/generation.md); 0 = never.")
      .at_least(0);
  s.field(&C::sample, &SampleConfig::prompts_file, "training.sample.prompts_file",
          "JSONL of {\"prompt\": text} or {\"messages\": [...]} records (messages through the dataset's chat "
          "template).");
  s.field(&C::sample, &SampleConfig::max_new_tokens, "training.sample.max_new_tokens",
          "New tokens per sample, at most.")
      .at_least(1);
  s.field(&C::sample, &SampleConfig::temperature, "training.sample.temperature",
          "0 = greedy; > 0 samples (seeded by training.seed, apart from training's random numbers).")
      .at_least(0);

  s.field(&C::dpo, &DpoConfig::beta, "dpo.beta",
          "DPO temperature: the loss is -log σ(beta · (policy - reference log-ratio of chosen over rejected)).")
      .at_least(1e-9);
  s.field(&C::dpo, &DpoConfig::label_smoothing, "dpo.label_smoothing",
          "Conservative DPO: the fraction of pairs assumed mislabeled; 0 = plain DPO.")
      .at_least(0)
      .at_most(0.5);

  s.field(&C::data, &DataConfig::train_path, "data.train_path",
          "Dataset directory (manifest.json) written by nf-shard build.");
  s.field(&C::data, &DataConfig::val_path, "data.val_path",
          "Validation dataset directory; empty = the train dataset's val split.");

  s.field(&C::checkpoint, &CheckpointConfig::save_interval, "checkpoint.save_interval",
          "Steps between checkpoints (one is always saved at the end); 0 = only at the end.")
      .at_least(0);
  s.field(&C::checkpoint, &CheckpointConfig::keep_last, "checkpoint.keep_last",
          "Keep only the newest N step checkpoints; 0 = keep all.")
      .at_least(0);
  s.field(&C::checkpoint, &CheckpointConfig::resume, "checkpoint.resume",
          "Resume from: empty = start fresh, auto = the run's latest checkpoint if any, or a step directory.");
  s.enum_field(&C::checkpoint, &CheckpointConfig::async, "checkpoint.async",
               "Write checkpoints on a background thread from a copy in host memory: true, false, auto = on CUDA only.",
               {{"auto", AsyncSaves::kAuto}, {"true", AsyncSaves::kOn}, {"false", AsyncSaves::kOff}});
  s.field(&C::checkpoint, &CheckpointConfig::consolidate, "checkpoint.consolidate",
          "Write each checkpoint as one layout-independent checkpoint (full tensors, per-parameter optimizer "
          "state), gathered tensor by tensor at save time; synchronous.");

  dist::declare_parallel_keys(s, &C::parallel);

  s.field(&C::output, &OutputConfig::dir, "output.dir", "Directory that holds the runs.");
  s.field(&C::output, &OutputConfig::name, "output.name", "Run name (runs/<name>/); empty = the config file's name.");

  s.enum_field(&C::logging, &LoggingConfig::level, "logging.level", "Lowest level printed.", log_level_names());
  s.field(&C::logging, &LoggingConfig::all_ranks, "logging.all_ranks",
          "Print info lines from every rank, not only rank 0.");
  return s;
}

TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& override_args,
                              const std::vector<std::string>& preset_dirs) {
  TrainConfig config;
  const auto layers = file.empty() ? std::vector<config::Layer>{} : config::load_with_inheritance(file, preset_dirs);
  train_schema().apply(config, layers, config::parse_overrides(override_args));
  validate(config);
  return config;
}

namespace {

// The objective trains the network model.arch names; the neuralflow model takes none of the
// decoder's training features.
void validate_architecture(const TrainConfig& c, const ObjectiveSpec& objective) {
  if (objective.arch == model::Architecture::kNeuralFlow) {
    NF_CHECK(c.model.neuralflow(), ConfigError, "training.objective ", objective.name,
             " is a stage of the NeuralFlow paragraph-latent model, but model.arch is llama: set model.arch "
             "neuralflow (e.g. inherit: neuralflow_tiny; docs/neuralflow.md)");
    NF_CHECK(c.sample.interval == 0, ConfigError,
             "training.sample completes prompts with the language model; a neuralflow run continues text with "
             "nf-generate --neuralflow from its checkpoint: set training.sample.interval 0");
    NF_CHECK(c.training.recompute == model::RecomputeMode::kNone, ConfigError,
             "training.recompute applies to the llama decoder; model.arch neuralflow runs without it: set "
             "training.recompute none");
    return;
  }
  NF_CHECK(!c.model.neuralflow(), ConfigError,
           "model.arch neuralflow trains with training.objective vqvae, "
           "dynamics, emotion or finetune (docs/neuralflow.md), not ",
           objective.name);
}

}  // namespace

void validate(const TrainConfig& c) {
  model::validate(c.model);
  // (The neuralflow model's rows are its paragraph slots: model.max_paragraph_len bounds them.)
  NF_CHECK(c.model.neuralflow() || c.training.seq_len <= c.model.max_seq_len, ConfigError, "training.seq_len (",
           c.training.seq_len, ") exceeds model.max_seq_len (", c.model.max_seq_len, ")");
  // With training.epochs the trainer checks this against the max_steps it derives.
  NF_CHECK(c.training.epochs > 0 || c.training.warmup_steps <= c.training.max_steps, ConfigError,
           "training.warmup_steps (", c.training.warmup_steps, ") exceeds training.max_steps (", c.training.max_steps,
           ")");
  NF_CHECK(!c.parallel.sequence_parallel || c.training.seq_len % c.parallel.tp == 0, ConfigError, "training.seq_len (",
           c.training.seq_len, ") must be divisible by parallel.tp (", c.parallel.tp,
           ") with parallel.sequence_parallel");
  const ObjectiveSpec& objective = find_objective(c.training.objective);
  validate_architecture(c, objective);
  NF_CHECK(!c.training.document_mask || objective.unpacked_rows.empty(), ConfigError,
           "training.document_mask keeps packed documents apart, but ", objective.name, " ", objective.unpacked_rows,
           ": remove it from the ", objective.name, " run");
  NF_CHECK(!c.model.lora.enabled() || !c.training.load_from.empty() || !c.checkpoint.init_from.empty(), ConfigError,
           "model.lora trains adapters beside a frozen model, but neither training.load_from nor model.init_from "
           "names one: set one of them (a checkpoint or a Hugging Face directory)");
  NF_CHECK(!c.model.lora.enabled() || c.parallel.zero < 3, ConfigError,
           "model.lora with parallel.zero 3: ZeRO 3 shards what trains, and under LoRA that is the adapters only "
           "(the frozen base stays whole on every rank); use parallel.zero 1 or 2");
  NF_CHECK(c.sample.interval == 0 || !c.sample.prompts_file.empty(), ConfigError, "training.sample.interval is ",
           c.sample.interval,
           " but training.sample.prompts_file is empty: name a JSONL file of prompts (docs/generation.md)");
  NF_CHECK(c.sample.interval == 0 || !c.parallel.sequence_parallel || c.parallel.tp == 1, ConfigError,
           "training.sample generates one token at a time, which sequence parallelism cannot split over tp: "
           "set parallel.sequence_parallel false, or sample from a saved checkpoint with nf-generate");
  NF_CHECK(c.sample.interval == 0 || c.parallel.pp == 1, ConfigError,
           "training.sample runs the whole model on each rank, but parallel.pp is ", c.parallel.pp,
           ": sample from a saved checkpoint with nf-generate instead (set training.sample.interval 0)");
  NF_CHECK(!c.checkpoint.consolidate || c.checkpoint.async != AsyncSaves::kOn, ConfigError,
           "checkpoint.consolidate true gathers every tensor over the ranks while saving, which a background writer "
           "cannot do: set checkpoint.async to false or auto (consolidated saves are synchronous)");
}

int64_t resolve_max_steps(const TrainingConfig& training, uint64_t samples_per_epoch) {
  if (training.epochs == 0) return training.max_steps;
  const auto global = static_cast<uint64_t>(training.global_batch_size);
  return static_cast<int64_t>((static_cast<uint64_t>(training.epochs) * samples_per_epoch + global - 1) / global);
}

dist::MeshShape validate_layout(const TrainConfig& c, int64_t world_size) {
  const dist::MeshShape mesh = dist::MeshShape::resolve(c.parallel, world_size);
  const int64_t per_step = c.training.micro_batch_size * mesh.dp();
  if (c.training.global_batch_size % per_step != 0) {
    throw ConfigError("training.global_batch_size (" + std::to_string(c.training.global_batch_size) +
                          ") must be a multiple of training.micro_batch_size (" +
                          std::to_string(c.training.micro_batch_size) + ") * dp (" + std::to_string(mesh.dp()) +
                          ") = " + std::to_string(per_step),
                      "change the batch sizes or the number of data-parallel ranks");
  }
  NF_CHECK(c.model.n_heads % mesh.tp() == 0 && c.model.kv_heads() % mesh.tp() == 0, ConfigError, "model.n_heads (",
           c.model.n_heads, ") and model.n_kv_heads (", c.model.kv_heads(), ") must be divisible by parallel.tp (",
           mesh.tp(), ")");
  NF_CHECK(!c.model.neuralflow() || (mesh.tp() == 1 && mesh.pp() == 1), ConfigError,
           "model.arch neuralflow trains on data parallelism only (with any ZeRO stage), but the layout has tp ",
           mesh.tp(), " and pp ", mesh.pp(), ": set parallel.tp 1 and parallel.pp 1");
  parallel::pp::partition_layers(c.model.n_layers, mesh.pp(), c.parallel.pp_layers);  // throws when impossible
  return mesh;
}

std::string to_yaml_text(const TrainConfig& config) {
  YAML::Emitter out;
  out << train_schema().to_yaml(config);
  return std::string("# resolved by NeuralFlow: every key, after presets, files and overrides\n") + out.c_str() + "\n";
}

std::string run_directory(const TrainConfig& config, const std::string& config_file) {
  std::string name = config.output.name;
  if (name.empty()) name = config_file.empty() ? "default" : std::filesystem::path(config_file).stem().string();
  return (std::filesystem::path(config.output.dir) / name).string();
}

}  // namespace nf::train

namespace nf::train {

std::string config_reference_markdown() {
  return "# Configuration reference\n\n"
         "<!-- Generated by `nf-train --config-doc > docs/config.md`; a test fails when this file and the schema "
         "(src/train/config.cpp, include/nf/model/model_keys.h, include/nf/dist/parallel_keys.h) differ. -->\n\n"
         "A config is a YAML file of sections. `inherit: NAME` (a preset in configs/, or a path relative to the "
         "file; a list is allowed) loads another file first. Values apply in this order, later winning: defaults "
         "(below), inherited files (deepest first), the file, then command-line overrides "
         "`--section.key value` or `--section.key=value` (lists as `[1,2]` or `1,2`). Unknown keys, wrong types "
         "and out-of-range values are errors that name the key, the value, the file and line, and what was "
         "expected. The resolved config is written to `<output.dir>/<output.name>/config.yaml`. A config may also "
         "hold a `stages:` list, each entry a name and keys of its own, run one after the other "
         "(docs/stages.md).\n" +
         train_schema().markdown();
}

}  // namespace nf::train
