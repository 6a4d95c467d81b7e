// The trainer (trainer.h): builds the pieces from the config (the model's pipeline stage, the
// objective, the data-parallel optimizer, the data, the saver), runs the loop, logs and saves.
// What a step computes lives behind the Objective (objective.h), how gradients become an update
// behind the DataParallelOptimizer (parallel/dp/dp_optimizer.h), and checkpoints in the ckpt layer.
#include "nf/train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/consolidated.h"
#include "nf/ckpt/initial_weights.h"
#include "nf/ckpt/resume.h"
#include "nf/ckpt/saver.h"
#include "nf/core/error.h"
#include "nf/model/flops.h"
#include "nf/model/paragraph_model.h"
#include "nf/model/paragraph_table.h"
#include "nf/model/transformer.h"
#include "nf/optim/lr_schedule.h"
#include "nf/parallel/dp/dp_optimizer.h"
#include "nf/parallel/pp/schedule.h"
#include "nf/train/memory_stats.h"
#include "nf/train/metrics.h"
#include "nf/train/planner.h"
#include "nf/train/preemption.h"
#include "objective.h"
#include "paragraph_terms.h"
#include "samples.h"
#include "step.h"
#include "tied_embedding.h"
#include "trainer_state.h"
#include "training_data.h"

namespace nf::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The part of the model this rank's pipeline stage holds (parallel.pp_layers, else balanced).
model::StagePart stage_part(const TrainConfig& config, const dist::Mesh& mesh) {
  const int64_t stages = mesh.shape().pp(), stage = mesh.coords().pp;
  const auto layers = parallel::pp::partition_layers(config.model.n_layers, stages, config.parallel.pp_layers);
  model::StagePart part;
  part.first_layer = layers[stage].first;
  part.n_layers = layers[stage].count;
  part.embedding = stage == 0;
  part.head = stage == stages - 1;
  return part;
}

// Seconds blocked in communication, split by kind (Communicator::blocked_seconds).
struct BlockedTimes {
  double comm = 0;      // dp and tp collectives
  double pipeline = 0;  // pp: receives from neighbour stages, the loss and norm sums
  BlockedTimes operator-(const BlockedTimes& other) const { return {comm - other.comm, pipeline - other.pipeline}; }
};

// Where a logging interval's step time went. Validation and checkpoint saves fall outside it.
struct IntervalTimes {
  int64_t steps = 0;
  double seconds = 0;    // data wait + training steps
  double data_wait = 0;  // waiting for the loader
  BlockedTimes blocked;
  void add_step(double step_seconds, const BlockedTimes& step_blocked) {
    ++steps;
    seconds += step_seconds;
    blocked.comm += step_blocked.comm;
    blocked.pipeline += step_blocked.pipeline;
  }
};

class Trainer {
 public:
  Trainer(const TrainConfig& config, const std::string& run_dir, const dist::Mesh& mesh, const c10::Device& device,
          Logger& log)
      : config_(config),
        checkpoints_dir_(run_dir + "/checkpoints"),
        mesh_(mesh),
        device_(device),
        log_(log),
        objective_spec_(find_objective(config.training.objective)),
        samples_(config) {
    const TrainingConfig& t = config.training;
    if (config.data.train_path.empty()) {
      throw ConfigError("data.train_path is empty", "pass --data.train_path DIR (a dataset written by nf-shard build)");
    }
    NF_CHECK(
        t.dtype != Precision::kBf16 || device.is_cuda(), ConfigError,
        "training.dtype bf16 needs a CUDA device; this LibTorch/machine trains on the CPU in fp32 (use auto or fp32)");
    bf16_autocast_ = bf16_autocast_on(config, device);
    if (config.model.neuralflow()) {
      paragraph_ = build_paragraph_model();
      module_ = paragraph_.ptr();
    } else {
      lm_ = build_model();
      module_ = lm_.ptr();
      tied_ = std::make_unique<TiedEmbedding>(lm_, mesh);
    }
    // Before the optimizer exists: ZeRO's master weights start as a copy of the parameters.
    load_starting_weights();
    optimizer_ = std::make_unique<parallel::dp::DataParallelOptimizer>(
        trainable_parameters(), optimizer_options(), mesh,
        [this](const std::string& name) { return shard_spec_of(name).replicated(); }, parameter_units());
    set_unit_hooks(optimizer_->unit_hooks());
    log.info("data parallel: ", mesh.shape().dp(), " ranks, ", optimizer_->describe());
    log.info("precision: ", bf16_autocast_ ? "bf16 autocast, fp32 master weights and optimizer" : "fp32");
    if (t.document_mask) log.info("attention: within each packed document (training.document_mask)");
    if (t.recompute != model::RecomputeMode::kNone) {
      log.info("activation recomputation: ", model::name_of(t.recompute),
               t.recompute == model::RecomputeMode::kFull && t.recompute_interval > 1
                   ? " (every " + std::to_string(t.recompute_interval) + "th block)"
                   : "");
    }
    const bool resumed = resume_run();
    if (has_lora()) pin_lora_base();
    data_ = open_training_data(
        config, objective_spec_, mesh,
        {resumed ? &state_.loader : nullptr, state_.tokenizer_fingerprint, load_from_, load_from_fingerprint_}, log);
    state_.tokenizer_fingerprint = data_.tokenizer_fingerprint;
    meta_.tp = mesh.shape().tp();
    meta_.pp = mesh.shape().pp();
    meta_.dp = mesh.shape().dp();
    meta_.zero = config.parallel.zero;
    const CheckpointConfig& c = config.checkpoint;
    const bool async =
        !c.consolidate && (c.async == AsyncSaves::kOn || (c.async == AsyncSaves::kAuto && device.is_cuda()));
    saver_ = std::make_unique<ckpt::CheckpointSaver>(
        checkpoints_dir_, mesh, c.keep_last, async,
        c.consolidate ? ckpt::consolidated_files(config.model, config.parallel.zero > 0, mesh)
                      : ckpt::sharded_files(mesh),
        log);
    if (tied_) tied_->sync_weight();   // after a resume or load the last stage's copy must match the embedding
    optimizer_->release_parameters();  // ZeRO 3: from here on each unit is gathered when it runs
    objective_ = make_objective(
        objective_spec_,
        {config, mesh, lm_, paragraph_,
         [this](const parallel::dp::NamedTensors& values) { optimizer_->assign(values); }, bf16_autocast_,
         config.parallel.pp_schedule, [this] { return has_lora() ? lm_ : starting_model(); }, starting_weights(), log});
    schedule_ = optim::LrScheduleOptions()
                    .with_peak_lr(t.learning_rate)
                    .with_min_lr_ratio(t.min_lr_ratio)
                    .with_warmup_steps(t.warmup_steps)
                    .with_total_steps(data_.max_steps)
                    .with_decay(t.lr_schedule);
    const double peak = t.peak_tflops > 0 ? t.peak_tflops : (device.is_cuda() ? kAssumedPeakTflops : 0.0);
    peak_gflops_ = peak * 1e3;
    sequences_per_step_ = t.global_batch_size * objective_spec_.rows_per_sample;
    // The neuralflow model has no FLOP count (nor MFU) yet; its tokens are its paragraph slots.
    row_tokens_ = data_.loader_options.seq_len;
    if (!config.model.neuralflow()) {
      flops_per_token_ = model::training_flops_per_token(config.model, t.seq_len) * objective_spec_.flops_factor;
    }
    if (mesh.world().rank() == 0) metrics_ = std::make_unique<MetricsSink>(run_dir, meta_.step);
  }

  TrainResult run() {
    const TrainingConfig& t = config_.training;
    PreemptionGuard preemption;
    reset_tensor_peak(device_, tensor_memory_);  // the peak of training, not of setting up
    start_tensor_bytes_ = tensor_bytes_now(device_, tensor_memory_);
    const int64_t first_step = meta_.step;
    TrainResult result;
    result.step = meta_.step;
    IntervalTimes interval;
    while (meta_.step < data_.max_steps) {
      const Clock::time_point step_start = Clock::now();
      const BlockedTimes blocked_before = blocked_times();
      const data::Batch batch = data_.loader->next();
      interval.data_wait += seconds_since(step_start);
      const double loss = train_step(batch);
      interval.add_step(seconds_since(step_start), blocked_times() - blocked_before);
      result.last_loss = loss;
      saver_->poll();
      if (meta_.step % t.log_interval == 0 || meta_.step == data_.max_steps) {
        report(loss, interval);
        interval = IntervalTimes();
      }
      if (t.eval_interval > 0 && meta_.step % t.eval_interval == 0) run_validation();
      if (samples_.due(meta_.step)) write_samples();
      const bool save_due = config_.checkpoint.save_interval > 0 && meta_.step % config_.checkpoint.save_interval == 0;
      if (preemption_agreed(preemption)) {
        result.checkpoint = save();
        saver_->finish();  // complete before the job says so and exits
        result.preempted = true;
        log_.warn("preempted by a signal at step ", meta_.step, "; checkpoint ", result.checkpoint,
                  " saved, exiting with code 75 (requeue and resume with --checkpoint.resume auto)");
        break;
      }
      if (save_due && meta_.step < data_.max_steps) result.checkpoint = save();
    }
    // The training's peaks, before the final save gathers anything; none for a run that had
    // nothing left to train (a finished run resubmitted writes nothing).
    if (meta_.step > first_step) report_memory();
    if (last_saved_step_ != meta_.step) result.checkpoint = save();
    saver_->finish();
    result.step = meta_.step;
    return result;
  }

 private:
  model::InitOptions init_options() const {
    return model::InitOptions()
        .with_seed(config_.training.seed)
        .with_std(config_.model.init_std)
        .with_n_layers(config_.model.n_layers);
  }

  // This rank's stage of the model, initialized from training.seed (any layout: the same weights).
  model::CausalLM build_model() {
    const TrainingConfig& t = config_.training;
    const dist::MeshShape& shape = mesh_.shape();
    const model::TensorParallel tp(shape.tp() > 1 ? &mesh_.tp() : nullptr, config_.parallel.sequence_parallel);
    model::CausalLM model(config_.model, tp, stage_part(config_, mesh_));
    const int64_t parameters = model::initialize(*model, init_options());
    model->to(device_);
    model->set_recompute({t.recompute, t.recompute_interval});
    const model::StagePart& part = model->part();
    log_.info("initialized ", with_thousands(static_cast<double>(parameters)), " parameters on ", device_.str(),
              " (seed ", t.seed, ")",
              shape.pp() > 1 ? " for pipeline stage " + std::to_string(mesh_.coords().pp) + " of " +
                                   std::to_string(shape.pp()) + ": layers " + std::to_string(part.first_layer) + "-" +
                                   std::to_string(part.first_layer + part.n_layers - 1) + ", " +
                                   dist::name_of(config_.parallel.pp_schedule) + " schedule"
                             : "");
    if (shape.tp() > 1) {
      // Asked of the model, not the config: the shape every block keeps and a pipeline stage sends.
      log_.info("tensor parallel: ", shape.tp(), " ranks, hidden state between blocks ",
                c10::IntArrayRef(model->hidden_shape(t.micro_batch_size, t.seq_len)),
                tp.splits_sequence() ? " (sequence parallel)" : " (replicated)");
    } else if (config_.parallel.sequence_parallel) {
      log_.info("parallel.sequence_parallel has no effect with parallel.tp 1");
    }
    return model;
  }

  // The neuralflow model, whole on every rank (it trains on dp only), initialized from training.seed.
  model::ParagraphModel build_paragraph_model() {
    model::ParagraphModel model(config_.model);
    const int64_t parameters = model::initialize(*model, init_options());
    model->to(device_);
    log_.info("initialized ", with_thousands(static_cast<double>(parameters)),
              " parameters of the neuralflow model on ", device_.str(), " (seed ", config_.training.seed,
              "): encoder and decoder of ", config_.model.n_layers, " blocks, ",
              model::name_of(config_.model.brain_type), " brain of ", config_.model.num_layers, " layers, ",
              config_.model.codebook_size, " codes of ", config_.model.d_latent, " dims");
    return model;
  }

  // The tp communicator (nullptr without tensor parallelism) and how `name` is split over it.
  dist::Communicator* tp() const { return mesh_.shape().tp() > 1 ? &mesh_.tp() : nullptr; }
  parallel::tp::ShardSpec shard_spec_of(const std::string& name) const {
    return model::shard_spec_of(config_.model, name, tp());
  }
  bool has_lora() const { return lm_ && lm_->has_lora(); }
  void set_unit_hooks(parallel::dp::UnitHooks* hooks) {
    if (lm_) lm_->set_unit_hooks(hooks);
    if (paragraph_) paragraph_->set_unit_hooks(hooks);
  }

  // ZeRO 3's units. The decoder's tied embedding is read by the head too (and synced across
  // pipeline stages), so it stays gathered; the neuralflow model gathers only its blocks.
  parallel::dp::ParameterUnits parameter_units() const {
    if (config_.model.neuralflow()) return {model::paragraph_unit_of, model::paragraph_pinned_units()};
    parallel::dp::ParameterUnits units{model::unit_of, {}};
    if (config_.model.tie_embeddings) units.pinned.insert("embed");
    return units;
  }

  // What the optimizer updates: every parameter, or under LoRA the adapters (the base is frozen).
  ckpt::NamedTensors trainable_parameters() const {
    ckpt::NamedTensors out;
    for (auto& [name, parameter] : model::named_parameters(*module_)) {
      if (parameter.requires_grad()) out.emplace_back(name, parameter);
    }
    return out;
  }

  // The model's own weights, without LoRA's adapters: what starting weights fill.
  ckpt::NamedTensors base_parameters() const {
    ckpt::NamedTensors out;
    for (auto& [name, parameter] : model::named_parameters(*module_)) {
      if (!model::is_lora_parameter(name)) out.emplace_back(name, parameter);
    }
    return out;
  }

  parallel::dp::DataParallelOptions optimizer_options() const {
    const TrainingConfig& t = config_.training;
    parallel::dp::DataParallelOptions options;
    options.zero = static_cast<int>(config_.parallel.zero);
    options.bucket_mb = config_.parallel.bucket_mb;
    options.overlap_grad_reduce = config_.parallel.overlap_grad_reduce;
    options.adamw = optim::AdamWOptions()
                        .with_betas(t.adam_beta1, t.adam_beta2)
                        .with_eps(t.adam_eps)
                        .with_weight_decay(t.weight_decay);
    if (config_.model.neuralflow()) {
      // The codebook and its statistics never decay; a stage's frozen modules must not move at all.
      std::vector<std::string> no_decay = options.adamw.no_decay_patterns;
      no_decay.emplace_back("quantizer.");
      const std::vector<std::string> frozen = frozen_modules(objective_spec_.paragraph);
      no_decay.insert(no_decay.end(), frozen.begin(), frozen.end());
      options.adamw.with_no_decay_patterns(no_decay);
      std::string names;
      for (const std::string& module : frozen)
        names += (names.empty() ? "" : ", ") + module.substr(0, module.size() - 1);
      log_.info(objective_spec_.name, ": frozen ", names.empty() ? "nothing (the whole model trains)" : names);
    }
    return options;
  }

  // Where a run that has no checkpoint of its own starts (the policy, and DPO's reference):
  // training.load_from (resolved once), else model.init_from; empty = the seeded initialization.
  std::string starting_weights() {
    if (config_.training.load_from.empty()) return config_.checkpoint.init_from;
    if (load_from_.empty()) load_from_ = ckpt::resolve_load_from(config_.training.load_from, config_.output.dir);
    return load_from_;
  }

  // A new model of this rank's stage holding the starting weights (DPO's frozen reference).
  model::CausalLM starting_model() {
    const model::TensorParallel tp(mesh_.shape().tp() > 1 ? &mesh_.tp() : nullptr, config_.parallel.sequence_parallel);
    model::CausalLM model(config_.model, tp, stage_part(config_, mesh_));
    model::initialize(*model, init_options());
    model->to(device_);
    const std::string source = starting_weights();
    if (!source.empty()) ckpt::load_weights(source, config_.model, this->tp(), model::named_parameters(*model));
    return model;
  }

  // The starting weights of a run that has no checkpoint of its own to resume (a resume takes
  // precedence, and is logged): training.load_from, else model.init_from (a Hugging Face directory
  // or an nf step directory), else the seeded initialization they already hold.
  void load_starting_weights() {
    const CheckpointConfig& c = config_.checkpoint;
    // Under LoRA a checkpoint holds the adapters only: the base always comes from its source.
    if (!has_lora() && !ckpt::resume_candidates(c.resume, checkpoints_dir_).empty()) {
      if (!c.init_from.empty()) {
        log_.info("model.init_from ", c.init_from, " not loaded: checkpoint.resume ", c.resume,
                  " has a checkpoint to resume from, which takes precedence");
      }
      return;
    }
    if (!c.init_from.empty() && !config_.training.load_from.empty()) {
      log_.info("model.init_from ", c.init_from, " not loaded: training.load_from takes precedence");
    }
    const std::string source = starting_weights();
    if (source.empty()) return;
    ckpt::load_weights(source, config_.model, tp(), base_parameters());
    if (config_.training.load_from.empty()) {
      log_.info("initial weights from model.init_from ", source, " (fresh optimizer, step 0)");
      return;
    }
    load_from_fingerprint_ =
        trainer_state_from_json(ckpt::read_checkpoint_meta(source).trainer_state, source).tokenizer_fingerprint;
    log_.info("loaded weights from ", source, " (training.load_from; fresh optimizer, schedule and data)");
  }

  // LoRA: the adapters keep the base the run started from, pinned in every checkpoint's meta.json
  // (lora_base), wherever training.load_from resolves now (a base run trained further moves its
  // `latest`); a resumed run whose base moved loads the pinned one again.
  void pin_lora_base() {
    const std::string loaded = std::filesystem::absolute(starting_weights()).lexically_normal().string();
    if (meta_.lora_base.empty() || meta_.lora_base == loaded) {
      meta_.lora_base = loaded;
      return;
    }
    NF_CHECK(std::filesystem::exists(meta_.lora_base), CheckpointError,
             "the base this LoRA run's adapters were "
             "trained on, '",
             meta_.lora_base, "' (its checkpoint's meta.json), does not exist any more: restore it");
    log_.info("LoRA base: ", meta_.lora_base, " as pinned by the checkpoint (", loaded,
              " is what the config names now)");
    ckpt::load_weights(meta_.lora_base, config_.model, tp(), base_parameters());
  }

  // The run's own checkpoint (checkpoint.resume, ckpt/resume.h) into the model and optimizer, and
  // its step and trainer state; false when there is none to resume.
  bool resume_run() {
    const auto restore = [this](const ckpt::LoadedCheckpoint& loaded, const std::string& dir) {
      ckpt::restore_tensors(optimizer_->parameters(), loaded.model_shard, dir);
      optimizer_->load_state(loaded.optimizer_state, loaded.resharded);  // after the parameters
    };
    const std::optional<ckpt::LoadedCheckpoint> loaded =
        ckpt::resume(config_.checkpoint.resume, checkpoints_dir_, {config_.model, config_.parallel}, mesh_,
                     ckpt::parameter_shards(config_.model, tp(), optimizer_->parameters()), restore, log_);
    if (!loaded) return false;
    meta_ = loaded->meta;
    state_ = trainer_state_from_json(meta_.trainer_state, loaded->step_dir + "/meta.json");
    last_saved_step_ = meta_.step;  // already on disk: finishing right away saves nothing again
    log_.info("resumed from ", loaded->step_dir, " at step ", meta_.step, " (",
              with_thousands(state_.loader.consumed_samples), " samples consumed)");
    return true;
  }

  // One optimizer step; returns the global batch's mean loss.
  double train_step(const data::Batch& batch) {
    const TrainingConfig& t = config_.training;
    BackwardHooks hooks;
    hooks.before_last_backward = [this] {
      if (tied_) tied_->add_output_grad();
      optimizer_->arm();
      // What the forwards left for backward to use: the activations (and the loss's tensors).
      const uint64_t now = tensor_bytes_now(device_, tensor_memory_);
      if (now > start_tensor_bytes_) activation_bytes_ = std::max(activation_bytes_, now - start_tensor_bytes_);
    };
    hooks.after_backward = [this] {
      if (tied_) tied_->send_output_grad();
    };
    const ObjectiveTotals totals = objective_->forward_backward(to_device(batch, device_), hooks);
    rewards_ = totals.rewards;
    terms_ = totals.terms;
    grad_norm_ = optimizer_->reduce_gradients();
    state_.loader = batch.state;
    state_.tokens_seen += sequences_per_step_ * row_tokens_;
    if (!std::isfinite(totals.loss) || !std::isfinite(grad_norm_)) {
      optimizer_->zero_grad();
      ++state_.skipped_steps;
      ++state_.bad_steps_in_a_row;
      log_.warn("step ", meta_.step + 1, ": non-finite ", std::isfinite(totals.loss) ? "gradient norm" : "loss",
                "; update skipped (", state_.bad_steps_in_a_row, " in a row)");
      NF_CHECK(state_.bad_steps_in_a_row < t.max_bad_steps, DivergedError, state_.bad_steps_in_a_row,
               " steps in a row had a non-finite loss or gradient (training.max_bad_steps = ", t.max_bad_steps,
               "); the last good checkpoint is in ", checkpoints_dir_);
      ++meta_.step;
      return totals.loss;
    }
    state_.bad_steps_in_a_row = 0;
    lr_ = optim::learning_rate_at(schedule_, meta_.step);
    optimizer_->step(lr_, t.grad_clip);
    if (tied_) tied_->sync_weight();
    ++meta_.step;
    return totals.loss;
  }

  // Seconds blocked in communication so far: dp and tp (exposed communication) and pp (waiting on
  // pipeline neighbours: the bubble).
  BlockedTimes blocked_times() const {
    return {mesh_.dp().blocked_seconds() + mesh_.tp().blocked_seconds(), mesh_.pp().blocked_seconds()};
  }

  void report(double loss, const IntervalTimes& interval) {
    const double seconds = interval.seconds;
    StepMetrics m;
    m.step = meta_.step;
    m.loss = loss;
    m.rewards = rewards_;
    m.terms = terms_;
    m.lr = lr_;
    m.grad_norm = grad_norm_;
    m.tokens_per_s = static_cast<double>(interval.steps * sequences_per_step_ * row_tokens_) / seconds;
    m.gflops_per_s = m.tokens_per_s * flops_per_token_ / static_cast<double>(mesh_.world().size()) / 1e9;
    if (peak_gflops_ > 0 && flops_per_token_ > 0) m.mfu = m.gflops_per_s / peak_gflops_;
    m.data_wait = interval.data_wait / seconds;
    m.comm = interval.blocked.comm / seconds;
    m.bubble = interval.blocked.pipeline / seconds;
    m.skipped_steps = state_.skipped_steps;
    log_.info(format_step_line(m));
    if (metrics_) metrics_->record(m);
  }

  // Every rank's measured peaks, gathered to rank 0: one log line and a metrics record.
  void report_memory() {
    const MemoryPeak peak = memory_peak(device_, tensor_memory_);
    const int64_t ranks = mesh_.world().size();
    PlanOptions plan;
    plan.bf16_autocast = bf16_autocast_;
    // The planner models the decoder only (docs/memory.md): no prediction (0) for the neuralflow model.
    const double predicted = config_.model.neuralflow()
                                 ? 0.0
                                 : static_cast<double>(predicted_peak_bytes(config_, ranks, mesh_.coords().pp, plan));
    at::Tensor mine =
        torch::tensor({static_cast<double>(peak.tensor_bytes), static_cast<double>(peak.rss_bytes),
                       static_cast<double>(start_tensor_bytes_), static_cast<double>(activation_bytes_), predicted},
                      torch::kDouble);
    constexpr int64_t kFields = 5;
    at::Tensor all = torch::zeros({ranks * kFields}, torch::kDouble);
    if (ranks > 1) {
      mesh_.world().all_gather(mine, all)->wait();
    } else {
      all.copy_(mine);
    }
    MemoryRecord record;
    std::string line = "peak memory per rank (tensors / process RSS; planner's prediction):";
    for (int64_t r = 0; r < ranks; ++r) {
      record.tensor_bytes.push_back(all[kFields * r].item<double>());
      record.rss_bytes.push_back(all[kFields * r + 1].item<double>());
      record.start_bytes.push_back(all[kFields * r + 2].item<double>());
      record.activation_bytes.push_back(all[kFields * r + 3].item<double>());
      record.predicted_bytes.push_back(all[kFields * r + 4].item<double>());
      char part[128];
      char prediction[48] = "";
      if (record.predicted_bytes.back() > 0) {
        std::snprintf(prediction, sizeof prediction, "; %.1f MiB", record.predicted_bytes.back() / 1048576.0);
      }
      std::snprintf(part, sizeof part, " %lld: %.1f / %.1f MiB%s%s", static_cast<long long>(r),
                    record.tensor_bytes.back() / 1048576.0, record.rss_bytes.back() / 1048576.0, prediction,
                    r + 1 < ranks ? "," : "");
      line += part;
    }
    log_.info(line);
    if (metrics_) metrics_->record_memory(meta_.step, record);
  }

  // training.sample: the whole model (ZeRO 3: gathered) completes the prompts; rank 0 writes them.
  void write_samples() {
    const Clock::time_point start = Clock::now();
    optimizer_->gather_parameters();
    lm_->set_unit_hooks(nullptr);
    std::vector<SampleRecord> records;
    {
      const Bf16Autocast autocast(bf16_autocast_);
      records = samples_.generate(*lm_);
    }
    lm_->set_unit_hooks(optimizer_->unit_hooks());
    optimizer_->release_parameters();
    if (metrics_) metrics_->record_samples(meta_.step, records);
    log_.info("step ", meta_.step, " | samples: ", records.size(), " written to samples.jsonl in ",
              seconds_since(start),
              " s; the first: ", records.empty() ? "" : records[0].prompt + " ▸" + records[0].completion);
  }

  void run_validation() {
    if (!data_.validation) return;
    data::LoaderOptions options = data_.loader_options;
    options.shuffle = false;
    options.prefetch_batches = 0;
    const auto global = static_cast<uint64_t>(options.global_batch_size);
    const uint64_t batches = std::max<uint64_t>(1, data::samples_per_epoch(*data_.validation, options) / global);
    const uint64_t steps = std::min<uint64_t>(batches, static_cast<uint64_t>(config_.training.eval_steps));
    const ObjectiveTotals totals = objective_->evaluate(
        [&](uint64_t index) {
          return to_device(data::make_batch(*data_.validation, options, index * global), device_);
        },
        steps);
    log_.info(format_eval_line(meta_.step, totals.loss, totals.rewards, totals.terms));
    if (metrics_) metrics_->record_eval(meta_.step, totals.loss, totals.rewards, totals.terms);
  }

  // Every rank stops at the same step: the signal may reach only some of them.
  bool preemption_agreed(const PreemptionGuard& preemption) {
    at::Tensor flag = torch::tensor({static_cast<int32_t>(preemption.signal_received() != 0)}, torch::kInt32);
    if (mesh_.world().size() > 1) mesh_.world().all_reduce(flag, dist::ReduceOp::kMax)->wait();
    return flag.item<int32_t>() != 0;
  }

  std::string save() {
    optimizer_->gather_parameters();  // ZeRO 3: a checkpoint holds whole parameters, as every stage's
    ckpt::RankShards shards;
    shards.model = optimizer_->parameters();
    for (const auto& [name, tensor] : shards.model) {
      shards.model_metadata["shard." + name] = ckpt::shard_metadata(shard_spec_of(name));
    }
    shards.optimizer = optimizer_->state();
    if (optimizer_->zero() > 0) {
      shards.optimizer_metadata = ckpt::zero_piece_metadata(optimizer_->layout(), mesh_.dp().rank());
    }
    meta_.trainer_state = trainer_state_to_json(state_);
    const std::string dir = saver_->save(config_.checkpoint.consolidate ? ckpt::consolidated_meta(meta_) : meta_,
                                         shards, to_yaml_text(config_));
    last_saved_step_ = meta_.step;
    optimizer_->release_parameters();  // an async save has its host copy by now
    return dir;
  }

  const TrainConfig& config_;
  std::string checkpoints_dir_;
  const dist::Mesh& mesh_;
  c10::Device device_;
  Logger& log_;
  // Before every tensor member: counts the CPU tensors of the whole run (memory_stats.h).
  TensorMemoryCounter tensor_memory_;
  const ObjectiveSpec& objective_spec_;  // training.objective
  bool bf16_autocast_ = false;
  // The network model.arch names (the other stays null), and it as a module.
  model::CausalLM lm_{nullptr};
  model::ParagraphModel paragraph_{nullptr};
  std::shared_ptr<torch::nn::Module> module_;
  std::unique_ptr<TiedEmbedding> tied_;  // the decoder's (null for neuralflow)
  std::unique_ptr<parallel::dp::DataParallelOptimizer> optimizer_;
  std::unique_ptr<Objective> objective_;
  std::optional<PreferenceMetrics> rewards_;  // of the last step, for preference objectives
  NamedValues terms_;                         // of the last step: the objective's figures
  std::string load_from_;                     // the step directory training.load_from resolved to, once needed
  std::string load_from_fingerprint_;         // the tokenizer of its training data
  TrainingData data_;
  TrainingSamples samples_;
  optim::LrScheduleOptions schedule_;
  std::unique_ptr<MetricsSink> metrics_;
  std::unique_ptr<ckpt::CheckpointSaver> saver_;
  ckpt::CheckpointMeta meta_;  // the step and layout of the next save
  TrainerState state_;
  int64_t last_saved_step_ = -1;
  uint64_t start_tensor_bytes_ = 0;  // the tensors held when training started (memory_stats.h)
  uint64_t activation_bytes_ = 0;    // the most held on top of them right before a step's last backward
  int64_t sequences_per_step_ = 0;   // the global batch's rows: two per preference pair
  int64_t row_tokens_ = 0;           // tokens of a row: training.seq_len, or the paragraph slots
  double lr_ = 0, grad_norm_ = 0, peak_gflops_ = 0, flops_per_token_ = 0;
};

}  // namespace

TrainResult train(const TrainConfig& config, const std::string& run_dir, const dist::Mesh& mesh,
                  const c10::Device& device, Logger& log) {
  Trainer trainer(config, run_dir, mesh, device, log);
  return trainer.run();
}

}  // namespace nf::train
