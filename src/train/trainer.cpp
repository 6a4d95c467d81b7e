#include "nf/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "dpo.h"
#include "nf/ckpt/checkpoint.h"
#include "nf/ckpt/consolidated.h"
#include "nf/ckpt/initial_weights.h"
#include "nf/ckpt/resume.h"
#include "nf/ckpt/saver.h"
#include "nf/core/error.h"
#include "nf/data/data_loader.h"
#include "nf/data/token_dataset.h"
#include "nf/model/flops.h"
#include "nf/model/transformer.h"
#include "nf/optim/adamw.h"
#include "nf/optim/grad_clip.h"
#include "nf/optim/lr_schedule.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/parallel/dp/grad_sync.h"
#include "nf/parallel/dp/sharded_adamw.h"
#include "nf/parallel/pp/schedule.h"
#include "nf/train/metrics.h"
#include "nf/train/preemption.h"
#include "step.h"
#include "tied_embedding.h"
#include "trainer_state.h"

namespace nf::train {
namespace {

using Clock = std::chrono::steady_clock;
using ckpt::NamedTensors;

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

std::vector<at::Tensor> tensors_of(const NamedTensors& named) {
  std::vector<at::Tensor> out;
  for (const auto& [name, tensor] : named) out.push_back(tensor);
  return out;
}

// The dataset formats each training.stage trains on: the next-token loss on pretrain and sequence
// data (every token, or the masked ones) and on sft data (the response tokens); DPO on pairs.
void check_stage_data(const std::string& stage, data::DatasetFormat format, const std::string& path) {
  using data::DatasetFormat;
  const bool fits = stage == "dpo"   ? format == DatasetFormat::kDpo
                    : stage == "sft" ? format == DatasetFormat::kSft
                                     : format == DatasetFormat::kPretrain || format == DatasetFormat::kSequence;
  if (fits) return;
  const std::string wanted = stage == "pretrain" ? "pretrain (or sequence)" : stage;
  throw ConfigError("training.stage " + stage + " trains on " + wanted + " data, but '" + path + "' is a " +
                        data::format_name(format) + " dataset",
                    format == DatasetFormat::kDpo || format == DatasetFormat::kSft
                        ? "set training.stage " + std::string(data::format_name(format)) +
                              ", or build the dataset with nf-shard build --format " + wanted
                        : "build the dataset with nf-shard build --format " + stage);
}

// The validation split (data.val_path, else the train dataset's val split), or null when there
// is none to evaluate on. It must have the train dataset's format.
std::shared_ptr<const data::TokenDataset> open_validation(const TrainConfig& config, const data::Manifest& train,
                                                          Logger& log) {
  if (config.training.eval_interval == 0) return nullptr;
  const std::string path = config.data.val_path.empty() ? config.data.train_path : config.data.val_path;
  const data::Manifest manifest = data::read_manifest(path);
  const auto split = manifest.splits.find("val");
  if (split == manifest.splits.end() || split->second.tokens <= static_cast<uint64_t>(config.training.seq_len)) {
    log.warn("no validation: '", path, "' has no val split longer than training.seq_len; build the dataset with ",
             "nf-shard build --val-fraction > 0 or set data.val_path");
    return nullptr;
  }
  NF_CHECK(manifest.format == train.format, ConfigError, "data.val_path '", path, "' is a ",
           data::format_name(manifest.format), " dataset but data.train_path is ", data::format_name(train.format));
  data::TokenDatasetOptions options;
  options.split = "val";
  options.model_vocab_size = config.model.vocab_size;
  options.tokenizer_fingerprint = train.tokenizer.fingerprint;
  return std::make_shared<const data::TokenDataset>(path, options);
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
      : config_(config), checkpoints_dir_(run_dir + "/checkpoints"), mesh_(mesh), log_(log) {
    const TrainingConfig& t = config.training;
    const bool dpo = t.stage == "dpo";
    if (config.data.train_path.empty()) {
      throw ConfigError("data.train_path is empty", "pass --data.train_path DIR (a dataset written by nf-shard build)");
    }
    const model::TensorParallel tp(mesh.shape().tp() > 1 ? &mesh.tp() : nullptr, config.parallel.sequence_parallel);
    model_ = model::CausalLM(config.model, tp, stage_part(config, mesh));
    const int64_t parameters = model::initialize(*model_, init_options());
    model_->to(device);
    const model::StagePart& part = model_->part();
    log.info("initialized ", with_thousands(static_cast<double>(parameters)), " parameters on ", device.str(),
             " (seed ", t.seed, ")",
             mesh.shape().pp() > 1
                 ? " for pipeline stage " + std::to_string(mesh.coords().pp) + " of " +
                       std::to_string(mesh.shape().pp()) + ": layers " + std::to_string(part.first_layer) + "-" +
                       std::to_string(part.first_layer + part.n_layers - 1) + ", " + config.parallel.pp_schedule +
                       " schedule"
                 : "");
    if (mesh.shape().tp() > 1) {
      // Asked of the model, not the config: the shape every block keeps and a pipeline stage sends.
      log.info("tensor parallel: ", mesh.shape().tp(), " ranks, hidden state between blocks ",
               c10::IntArrayRef(model_->hidden_shape(t.micro_batch_size, t.seq_len)),
               tp.splits_sequence() ? " (sequence parallel)" : " (replicated)");
    } else if (config.parallel.sequence_parallel) {
      log.info("parallel.sequence_parallel has no effect with parallel.tp 1");
    }
    schedule_kind_ = parallel::pp::parse_schedule_kind(config.parallel.pp_schedule);
    tied_ = std::make_unique<TiedEmbedding>(model_, mesh);
    const dist::ParallelConfig& p = config.parallel;
    flat_ = std::make_unique<parallel::dp::FlatParameters>(model::named_parameters(*model_),
                                                           parallel::dp::bucket_numel_for(p.bucket_mb, sizeof(float)),
                                                           static_cast<int>(mesh.shape().dp()));
    parameters_ = flat_->parameters();
    // Before the optimizer exists: ZeRO's master weights start as a copy of the parameters.
    if (ckpt::resume_candidates(config.checkpoint.resume, checkpoints_dir_).empty()) {
      load_starting_weights();
    } else if (!config.checkpoint.init_from.empty()) {
      log.info("model.init_from ", config.checkpoint.init_from, " not loaded: checkpoint.resume ",
               config.checkpoint.resume, " has a checkpoint to resume from, which takes precedence");
    }
    grad_sync_ = std::make_unique<parallel::dp::GradSync>(*flat_, mesh.dp(), static_cast<int>(p.zero),
                                                          p.overlap_grad_reduce && mesh.shape().dp() > 1);
    const auto adamw = optim::AdamWOptions()
                           .with_betas(t.adam_beta1, t.adam_beta2)
                           .with_eps(t.adam_eps)
                           .with_weight_decay(t.weight_decay);
    if (p.zero == 0) {
      optimizer_ = std::make_unique<optim::AdamW>(parameters_, adamw);
    } else {
      sharded_ = std::make_unique<parallel::dp::ShardedAdamW>(*flat_, mesh.dp(), adamw);
    }
    log.info("data parallel: ", mesh.shape().dp(), " ranks, ZeRO ", p.zero, ", ", flat_->layout().buckets().size(),
             " gradient buckets", p.overlap_grad_reduce && mesh.shape().dp() > 1 ? " overlapped with backward" : "");
    device_ = device;
    NF_CHECK(
        t.dtype != "bf16" || device.is_cuda(), ConfigError,
        "training.dtype bf16 needs a CUDA device; this LibTorch/machine trains on the CPU in fp32 (use auto or fp32)");
    bf16_autocast_ = device.is_cuda() && t.dtype != "fp32";
    log.info("precision: ", bf16_autocast_ ? "bf16 autocast, fp32 master weights and optimizer" : "fp32");
    if (t.document_mask) log.info("attention: within each packed document (training.document_mask)");
    resume_and_open_data();
    const CheckpointConfig& c = config.checkpoint;
    saver_ = std::make_unique<ckpt::CheckpointSaver>(
        checkpoints_dir_, mesh, c.keep_last,
        !c.consolidate && (c.async == "true" || (c.async == "auto" && device.is_cuda())), checkpoint_file_writer(), log);
    tied_->sync_weight();  // after a resume or load the last stage's copy must match the embedding
    if (dpo) {
      dpo_ =
          std::make_unique<DpoObjective>(make_reference(tp), mesh, dpo_options(), t.micro_batch_size, bf16_autocast_);
    }
    schedule_ = optim::LrScheduleOptions()
                    .with_peak_lr(t.learning_rate)
                    .with_min_lr_ratio(t.min_lr_ratio)
                    .with_warmup_steps(t.warmup_steps)
                    .with_total_steps(max_steps_)
                    .with_decay(optim::parse_lr_decay(t.lr_schedule));
    const double peak = t.peak_tflops > 0 ? t.peak_tflops : (device.is_cuda() ? 989.0 : 0.0);
    peak_gflops_ = peak * 1e3;
    // DPO: each pair is two sequences, and the reference's forward adds a third of a training step.
    sequences_per_step_ = t.global_batch_size * (dpo ? 2 : 1);
    flops_per_token_ = model::training_flops_per_token(config.model, t.seq_len) * (dpo ? 4.0 / 3.0 : 1.0);
    if (mesh.world().rank() == 0) metrics_ = std::make_unique<MetricsSink>(run_dir, meta_.step);
  }

  TrainResult run() {
    const TrainingConfig& t = config_.training;
    PreemptionGuard preemption;
    TrainResult result;
    result.step = meta_.step;
    IntervalTimes interval;
    while (meta_.step < max_steps_) {
      const Clock::time_point step_start = Clock::now();
      const BlockedTimes blocked_before = blocked_times();
      const data::Batch batch = loader_->next();
      interval.data_wait += seconds_since(step_start);
      const double loss = train_step(batch);
      interval.add_step(seconds_since(step_start), blocked_times() - blocked_before);
      result.last_loss = loss;
      saver_->poll();
      if (meta_.step % t.log_interval == 0 || meta_.step == max_steps_) {
        report(loss, interval);
        interval = IntervalTimes();
      }
      if (t.eval_interval > 0 && meta_.step % t.eval_interval == 0) run_validation();
      const bool save_due = config_.checkpoint.save_interval > 0 && meta_.step % config_.checkpoint.save_interval == 0;
      if (preemption_agreed(preemption)) {
        result.checkpoint = save();
        saver_->finish();  // complete before the job says so and exits
        result.preempted = true;
        log_.warn("preempted by a signal at step ", meta_.step, "; checkpoint ", result.checkpoint,
                  " saved, exiting with code 75 (requeue and resume with --checkpoint.resume auto)");
        break;
      }
      if (save_due && meta_.step < max_steps_) result.checkpoint = save();
    }
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

  model::DpoOptions dpo_options() const {
    model::DpoOptions options;
    options.beta = config_.dpo.beta;
    options.label_smoothing = config_.dpo.label_smoothing;
    return options;
  }

  // Where a run that has no checkpoint of its own starts (the policy, and DPO's reference):
  // training.load_from (resolved once), else model.init_from; empty = the seeded initialization.
  std::string starting_weights() {
    if (config_.training.load_from.empty()) return config_.checkpoint.init_from;
    if (load_from_.empty()) load_from_ = ckpt::resolve_load_from(config_.training.load_from, config_.output.dir);
    return load_from_;
  }

  // The starting weights of a run that has no checkpoint of its own to resume (a resume takes
  // precedence, and is logged): training.load_from, else model.init_from (a Hugging Face directory
  // or an nf step directory), else the seeded initialization they already hold.
  void load_starting_weights() {
    const std::string& init_from = config_.checkpoint.init_from;
    if (!init_from.empty() && !config_.training.load_from.empty()) {
      log_.info("model.init_from ", init_from, " not loaded: training.load_from takes precedence");
    }
    const std::string source = starting_weights();
    if (source.empty()) return;
    ckpt::load_weights(source, *model_, parameters_);
    if (config_.training.load_from.empty()) {
      log_.info("initial weights from model.init_from ", source, " (fresh optimizer, step 0)");
      return;
    }
    load_from_fingerprint_ =
        trainer_state_from_json(ckpt::read_checkpoint_meta(source).trainer_state, source).tokenizer_fingerprint;
    log_.info("loaded weights from ", source, " (training.load_from; fresh optimizer, schedule and data)");
  }

  // The run's own checkpoint (checkpoint.resume) if it has one; then the training data, checked
  // against the stage and against the tokenizer of the checkpoint the run starts from; max_steps.
  void resume_and_open_data() {
    const bool resumed = resume_run();
    data::TokenDatasetOptions options;
    options.model_vocab_size = config_.model.vocab_size;
    options.tokenizer_fingerprint = state_.tokenizer_fingerprint;  // a resumed run's: the same dataset's
    auto train_data = std::make_shared<const data::TokenDataset>(config_.data.train_path, options);
    const data::Manifest& manifest = train_data->manifest();
    check_stage_data(config_.training.stage, manifest.format, config_.data.train_path);
    NF_CHECK(resumed || load_from_fingerprint_.empty() || load_from_fingerprint_ == manifest.tokenizer.fingerprint,
             DataError, "data.train_path '", config_.data.train_path, "' was tokenized by tokenizer ",
             manifest.tokenizer.fingerprint.substr(0, 12), ", but training.load_from '", load_from_,
             "' was trained on data of tokenizer ", load_from_fingerprint_.substr(0, 12),
             "; build the dataset with that tokenizer: nf-shard build --tokenizer <the earlier dataset's directory>");
    state_.tokenizer_fingerprint = manifest.tokenizer.fingerprint;
    meta_.tp = mesh_.shape().tp();
    meta_.pp = mesh_.shape().pp();
    meta_.dp = mesh_.shape().dp();
    meta_.zero = config_.parallel.zero;
    loader_options_.seq_len = config_.training.seq_len;
    loader_options_.global_batch_size = config_.training.global_batch_size;
    loader_options_.dp_rank = static_cast<int>(mesh_.coords().dp);
    loader_options_.dp_size = static_cast<int>(mesh_.shape().dp());
    loader_options_.seed = static_cast<uint64_t>(config_.training.seed);
    loader_options_.document_ids = config_.training.document_mask;
    loader_ = std::make_unique<data::DataLoader>(train_data, loader_options_, resumed ? &state_.loader : nullptr);
    max_steps_ = resolve_max_steps(config_.training, loader_->num_samples());
    const TrainingConfig& t = config_.training;
    const std::string kind = manifest.chat_template.empty() ? ""
                                                            : std::string(" (") + data::format_name(manifest.format) +
                                                                  ", chat template " + manifest.chat_template + ")";
    const std::string unit = manifest.format == data::DatasetFormat::kDpo
                                 ? " pairs per epoch"
                                 : " samples of " + std::to_string(t.seq_len) + " per epoch";
    const std::string epochs =
        t.epochs > 0 ? "; training.epochs " + std::to_string(t.epochs) + " = " + std::to_string(max_steps_) + " steps"
                     : "";
    log_.info("data: ", config_.data.train_path, " train split", kind, ", ",
              with_thousands(static_cast<double>(train_data->num_tokens())), " tokens, ",
              with_thousands(static_cast<double>(loader_->num_samples())), unit, epochs);
    NF_CHECK(t.warmup_steps <= max_steps_, ConfigError, "training.warmup_steps (", t.warmup_steps, ") exceeds the ",
             max_steps_, " steps of training.epochs ", t.epochs);
    validation_ = open_validation(config_, manifest, log_);
  }

  // DPO's frozen reference: the policy's starting weights (starting_weights()), whatever checkpoint
  // the policy itself resumed from.
  model::CausalLM make_reference(const model::TensorParallel& tp) {
    model::CausalLM reference(config_.model, tp, stage_part(config_, mesh_));
    model::initialize(*reference, init_options());
    reference->to(device_);
    const std::string source = starting_weights();
    if (!source.empty()) ckpt::load_weights(source, *reference, model::named_parameters(*reference));
    log_.info("dpo: reference model from ",
              source.empty() ? "the seeded initialization (training.seed " + std::to_string(config_.training.seed) + ")"
                             : source,
              ", beta ", config_.dpo.beta, ", label_smoothing ", config_.dpo.label_smoothing);
    return reference;
  }

  // The run's own checkpoint (checkpoint.resume, ckpt/resume.h) into the model and optimizer, and
  // its step and trainer state; false when there is none to resume.
  bool resume_run() {
    const ckpt::ModelLayout job{config_.model, config_.parallel};
    const auto restore = [this](const ckpt::LoadedCheckpoint& loaded, const std::string& dir) {
      ckpt::restore_tensors(parameters_, loaded.model_shard, dir);
      if (optimizer_) {
        optimizer_->load_state(loaded.optimizer_state);
      } else if (loaded.resharded) {
        sharded_->load_full_state(loaded.optimizer_state);  // after the parameters: it re-reads the master
      } else {
        sharded_->load_state(loaded.optimizer_state);
      }
    };
    const std::optional<ckpt::LoadedCheckpoint> loaded =
        ckpt::resume(config_.checkpoint.resume, checkpoints_dir_, job, mesh_,
                     ckpt::parameter_shards(*model_, parameters_), restore, log_);
    if (!loaded) return false;
    const std::string& dir = loaded->step_dir;
    meta_ = loaded->meta;
    state_ = trainer_state_from_json(meta_.trainer_state, dir + "/meta.json");
    last_saved_step_ = meta_.step;  // already on disk: finishing right away saves nothing again
    log_.info("resumed from ", dir, " at step ", meta_.step, " (", with_thousands(state_.loader.consumed_samples),
              " samples consumed)");
    return true;
  }

  // One optimizer step; returns the global batch's mean loss.
  double train_step(const data::Batch& batch) {
    const TrainingConfig& t = config_.training;
    BackwardHooks hooks;
    hooks.before_last_backward = [this] {
      tied_->add_output_grad();
      grad_sync_->arm();
    };
    hooks.after_backward = [this] { tied_->send_output_grad(); };
    double loss = 0;
    if (dpo_) {
      const PreferenceTotals totals = dpo_->forward_backward(model_, to_device(batch, device_), schedule_kind_, hooks);
      loss = totals.loss();
      rewards_ = totals.metrics();
    } else {
      loss = forward_backward(model_, to_device(batch, device_), t.micro_batch_size, mesh_, schedule_kind_,
                              bf16_autocast_, hooks)
                 .mean();
    }
    grad_sync_->finish();
    at::Tensor shard_grads;
    if (sharded_) shard_grads = grad_sync_->shard_grads();
    // ZeRO 2 holds only this rank's reduced chunk; otherwise every rank
    // has the full reduced gradients and the norm must count tp shards and replicated norms apart.
    grad_norm_ =
        config_.parallel.zero == 2 ? zero2_grad_norm(shard_grads) : global_grad_norm(model_, parameters_, mesh_);
    state_.loader = batch.state;
    state_.tokens_seen += sequences_per_step_ * t.seq_len;
    if (!std::isfinite(loss) || !std::isfinite(grad_norm_)) {
      flat_->zero_grad();
      ++state_.skipped_steps;
      ++state_.bad_steps_in_a_row;
      log_.warn("step ", meta_.step + 1, ": non-finite ", std::isfinite(loss) ? "gradient norm" : "loss",
                "; update skipped (", state_.bad_steps_in_a_row, " in a row)");
      NF_CHECK(state_.bad_steps_in_a_row < t.max_bad_steps, DivergedError, state_.bad_steps_in_a_row,
               " steps in a row had a non-finite loss or gradient (training.max_bad_steps = ", t.max_bad_steps,
               "); the last good checkpoint is in ", checkpoints_dir_);
      ++meta_.step;
      return loss;
    }
    state_.bad_steps_in_a_row = 0;
    const double clip = optim::clip_coefficient(torch::tensor(grad_norm_), t.grad_clip).item<double>();
    lr_ = optim::learning_rate_at(schedule_, meta_.step);
    if (sharded_) {
      sharded_->step(shard_grads, lr_, clip);
    } else {
      if (clip != 1.0) optim::scale_gradients(tensors_of(parameters_), torch::tensor(clip));
      optimizer_->step(lr_);
    }
    flat_->zero_grad();
    tied_->sync_weight();
    ++meta_.step;
    return loss;
  }

  // ZeRO 2: each dp rank holds a chunk of its (tp shard of its) stage's reduced gradients; tensors
  // every tp rank holds whole (the norms) count once over tp; the stages' sums add up.
  double zero2_grad_norm(const at::Tensor& shard_grads) {
    const double tp = static_cast<double>(mesh_.tp().size());
    at::Tensor squares = sharded_->grad_squares(
        shard_grads, [&](const std::string& name) { return model_->shard_spec_of(name).dim < 0 ? 1.0 / tp : 1.0; });
    for (dist::Communicator* axis : {&mesh_.dp(), &mesh_.tp(), &mesh_.pp()}) {
      if (axis->size() > 1) axis->all_reduce(squares, dist::ReduceOp::kSum)->wait();
    }
    return std::sqrt(squares.item<double>());
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
    m.lr = lr_;
    m.grad_norm = grad_norm_;
    m.tokens_per_s = static_cast<double>(interval.steps * sequences_per_step_ * config_.training.seq_len) / seconds;
    m.gflops_per_s = m.tokens_per_s * flops_per_token_ / static_cast<double>(mesh_.world().size()) / 1e9;
    if (peak_gflops_ > 0) m.mfu = m.gflops_per_s / peak_gflops_;
    m.data_wait = interval.data_wait / seconds;
    m.comm = interval.blocked.comm / seconds;
    m.bubble = interval.blocked.pipeline / seconds;
    m.skipped_steps = state_.skipped_steps;
    log_.info(format_step_line(m));
    if (metrics_) metrics_->record(m);
  }

  void run_validation() {
    if (!validation_) return;
    data::LoaderOptions options = loader_options_;
    options.shuffle = false;
    options.prefetch_batches = 0;
    const uint64_t samples = data::samples_per_epoch(*validation_, options.seq_len);
    const uint64_t batches = std::max<uint64_t>(1, samples / static_cast<uint64_t>(options.global_batch_size));
    const uint64_t steps = std::min<uint64_t>(batches, static_cast<uint64_t>(config_.training.eval_steps));
    double val_loss = 0;
    std::optional<PreferenceMetrics> rewards;
    if (dpo_) {
      PreferenceTotals total;
      for (uint64_t i = 0; i < steps; ++i) total += dpo_->evaluate(model_, validation_batch(options, i));
      val_loss = total.loss();
      rewards = total.metrics();
    } else {
      LossTotals total;
      for (uint64_t i = 0; i < steps; ++i) {
        const LossTotals part =
            evaluate(model_, validation_batch(options, i), config_.training.micro_batch_size, mesh_, bf16_autocast_);
        total.sum += part.sum;
        total.count += part.count;
      }
      val_loss = total.mean();
    }
    log_.info(format_eval_line(meta_.step, val_loss, rewards));
    if (metrics_) metrics_->record_eval(meta_.step, val_loss, rewards);
  }

  DeviceBatch validation_batch(const data::LoaderOptions& options, uint64_t index) const {
    return to_device(data::make_batch(*validation_, options, index * static_cast<uint64_t>(options.global_batch_size)),
                     device_);
  }

  // Every rank stops at the same step: the signal may reach only some of them.
  bool preemption_agreed(const PreemptionGuard& preemption) {
    at::Tensor flag = torch::tensor({static_cast<int32_t>(preemption.signal_received() != 0)}, torch::kInt32);
    if (mesh_.world().size() > 1) mesh_.world().all_reduce(flag, dist::ReduceOp::kMax)->wait();
    return flag.item<int32_t>() != 0;
  }

  // How a save writes this rank's files: its own shards, or its pieces of a consolidated checkpoint.
  ckpt::CheckpointFileWriter checkpoint_file_writer() const {
    const dist::Mesh& mesh = mesh_;
    if (!config_.checkpoint.consolidate) {
      return [&mesh](const std::string& dir, const ckpt::CheckpointMeta& meta, const ckpt::RankShards& shards,
                     const std::string& yaml) { return ckpt::write_checkpoint_files(dir, meta, shards, yaml, mesh.coords()); };
    }
    return [&mesh, zero = config_.parallel.zero > 0, model = config_.model](
               const std::string& dir, const ckpt::CheckpointMeta&, const ckpt::RankShards& shards, const std::string& yaml) {
      return ckpt::write_consolidated_files(dir, shards, zero, model, yaml, mesh);
    };
  }

  std::string save() {
    ckpt::RankShards shards;
    shards.model = parameters_;
    for (const auto& [name, tensor] : parameters_) {
      shards.model_metadata["shard." + name] = ckpt::shard_metadata(model_->shard_spec_of(name));
    }
    if (optimizer_) {
      shards.optimizer = optimizer_->state();
    } else {
      shards.optimizer = sharded_->state();
      shards.optimizer_metadata = ckpt::zero_piece_metadata(flat_->layout(), mesh_.dp().rank());
    }
    meta_.trainer_state = trainer_state_to_json(state_);
    const bool consolidate = config_.checkpoint.consolidate;
    const std::string dir = saver_->save(consolidate ? ckpt::consolidated_meta(meta_) : meta_, shards, to_yaml_text(config_));
    last_saved_step_ = meta_.step;
    return dir;
  }

  const TrainConfig& config_;
  std::string checkpoints_dir_;
  const dist::Mesh& mesh_;
  Logger& log_;
  c10::Device device_{c10::kCPU};
  model::CausalLM model_{nullptr};
  parallel::pp::ScheduleKind schedule_kind_ = parallel::pp::ScheduleKind::k1F1B;
  std::unique_ptr<TiedEmbedding> tied_;
  std::unique_ptr<DpoObjective> dpo_;         // training.stage dpo
  std::optional<PreferenceMetrics> rewards_;  // dpo: of the last step
  std::string load_from_;                     // the step directory training.load_from resolved to, once needed
  std::string load_from_fingerprint_;         // the tokenizer of its training data
  NamedTensors parameters_;
  std::unique_ptr<parallel::dp::FlatParameters> flat_;
  std::unique_ptr<parallel::dp::GradSync> grad_sync_;
  std::unique_ptr<optim::AdamW> optimizer_;              // zero 0
  std::unique_ptr<parallel::dp::ShardedAdamW> sharded_;  // zero 1 and 2
  optim::LrScheduleOptions schedule_;
  data::LoaderOptions loader_options_;
  std::unique_ptr<data::DataLoader> loader_;
  std::shared_ptr<const data::TokenDataset> validation_;
  std::unique_ptr<MetricsSink> metrics_;
  std::unique_ptr<ckpt::CheckpointSaver> saver_;
  ckpt::CheckpointMeta meta_;  // the step and layout of the next save
  TrainerState state_;
  int64_t last_saved_step_ = -1;
  int64_t max_steps_ = 0;           // training.max_steps, or derived from training.epochs
  int64_t sequences_per_step_ = 0;  // the global batch's rows: two per dpo pair
  bool bf16_autocast_ = false;
  double lr_ = 0, grad_norm_ = 0, peak_gflops_ = 0, flops_per_token_ = 0;
};

}  // namespace

TrainResult train(const TrainConfig& config, const std::string& run_dir, const dist::Mesh& mesh,
                  const c10::Device& device, Logger& log) {
  Trainer trainer(config, run_dir, mesh, device, log);
  return trainer.run();
}

}  // namespace nf::train
