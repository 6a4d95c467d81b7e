// The memory and step-time planner (docs/memory.md): what one rank of each pipeline stage will hold
// (parameters, gradients, optimizer state, master weights, activations, communication buffers) and
// how long a step will take, from the config and the world size alone: arithmetic, no tensors, no
// communication. `nf-train --dry-run` prints it, `--dry-run.layouts all` ranks every layout that
// fits, `--dry-run.json FILE` writes the same as JSON, and check_fits() stops a run that cannot fit
// before it allocates anything.
//
// The model is in src/train/planner.cpp (every constant named there, the activation terms in one
// function); memory sizes, the tables, and the searches over layouts and fixes in
// src/train/planner_report.cpp; the JSON in src/train/planner_json.cpp.
#pragma once

#include <c10/core/Device.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nf/model/recompute.h"
#include "nf/train/config.h"

namespace nf::train {

// Step-time assumptions (docs/memory.md#step-time); --dry-run.peak_tflops, .efficiency and
// .bandwidth override them.
inline constexpr double kAssumedPeakTflops = 989.0;     // H100/H200 SXM dense bf16, without sparsity
inline constexpr double kDefaultEfficiency = 0.4;       // the fraction of peak a step's kernels reach
inline constexpr double kDefaultBandwidthGBps = 100.0;  // one rank's link, GB/s (intra-node order)

struct PlanOptions {
  bool bf16_autocast = false;  // the run computes under bf16 autocast (bf16_autocast_on())
  double peak_tflops = 0;      // 0 = training.peak_tflops, or when that is 0 kAssumedPeakTflops
  double efficiency = kDefaultEfficiency;
  double bandwidth_gbps = kDefaultBandwidthGBps;
};

// The trainer's precision rule: bf16 autocast on a CUDA device unless training.dtype is fp32.
bool bf16_autocast_on(const TrainConfig& config, const c10::Device& device);

// One rank of one pipeline stage (every tp and dp rank of a stage holds the same amounts).
struct StageMemory {
  int64_t stage = 0;
  int64_t first_rank = 0, last_rank = 0;     // the ranks holding it: [first_rank, last_rank]
  int64_t first_layer = 0, n_layers = 0;     // its decoder layers
  int64_t parameter_elements = 0;            // P: parameter elements of its tp shard
  int64_t trainable_elements = 0;            // of those, what trains: all, or under LoRA the adapters
  int64_t buffer_elements = 0;               // the tied embedding's copy on the last stage (pp > 1)
  int64_t largest_unit_elements = 0;         // ZeRO 3's largest gather unit: a layer, the embedding or the head
  int64_t pinned_elements = 0;               // ZeRO 3: a tied embedding, never freed
  int64_t largest_weight_elements = 0;       // the largest single parameter (its gradient's transient)
  int64_t in_flight = 1;                     // micro-batches whose activations it holds at once
  uint64_t activations_per_micro_batch = 0;  // what one of them keeps (activations: × in_flight + transient)
  // Bytes per category; total() is what is compared with the limit.
  uint64_t parameters = 0;  // fp32 parameters (+ ZeRO 3's gathered units, autocast's bf16 copies, DPO's reference)
  uint64_t gradients = 0;
  uint64_t optimizer = 0;  // AdamW's exp_avg and exp_avg_sq
  uint64_t master = 0;     // ZeRO 1/2's fp32 shard of the parameters
  uint64_t activations = 0;
  uint64_t comm_buffers = 0;
  uint64_t step_transient = 0;  // what the optimizer step allocates, once backward's are freed

  // The states, plus whichever phase needs more on top: forward/backward (activations, buffers) or
  // the optimizer step.
  uint64_t total() const {
    return parameters + gradients + optimizer + master + std::max(activations + comm_buffers, step_transient);
  }
};

// Seconds of one optimizer step on one rank, summed without any overlap of communication and compute.
struct StepTime {
  double compute_s = 0;    // forward + backward (+ recomputation) at peak × efficiency
  double recompute_s = 0;  // the part of compute_s that re-runs forwards
  double dp_comm_s = 0;    // gradient reduction, ZeRO's gathers
  double tp_comm_s = 0;    // the four per-layer all-reduces (or gathers / reduce-scatters) per micro-batch
  double pp_comm_s = 0;    // activations and their gradients between pipeline stages
  double bubble_s = 0;     // pipeline fill and drain: (pp − 1) / (m + pp − 1) of compute + bubble

  double total_s() const { return compute_s + dp_comm_s + tp_comm_s + pp_comm_s + bubble_s; }
};

struct Plan {
  int64_t tp = 1, pp = 1, dp = 1;
  int64_t zero = 0;
  model::RecomputeMode recompute = model::RecomputeMode::kNone;
  int64_t recompute_interval = 1;
  int64_t micro_batches = 1;         // m: per step on each dp rank
  int64_t rows_per_micro_batch = 1;  // b: micro_batch_size × rows per sample (2 for a DPO pair)
  bool bf16_autocast = false;
  double peak_tflops = 0;     // what compute_s assumed
  bool peak_assumed = false;  // neither --dry-run.peak_tflops nor training.peak_tflops gave it
  double efficiency = 0, bandwidth_gbps = 0;
  std::vector<StageMemory> stages;  // one per pipeline stage
  StepTime step;                    // the slowest pipeline stage's

  uint64_t peak_bytes() const;  // the largest stage total
  const StageMemory& peak_stage() const;
};

// The plan of `config` on `world_size` ranks. The layout must be valid (validate_layout(); the
// ConfigErrors of MeshShape::resolve and partition_layers come through otherwise).
Plan make_plan(const TrainConfig& config, int64_t world_size, const PlanOptions& options = {});

// The predicted peak of one rank of pipeline stage `stage`, for the log at training start.
uint64_t predicted_peak_bytes(const TrainConfig& config, int64_t world_size, int64_t stage,
                              const PlanOptions& options = {});

// What one rank may use, and where that number came from (for the messages).
struct MemoryLimit {
  uint64_t bytes = 0;  // 0 = unknown: every plan "fits" and nothing is checked
  std::string source;  // "training.memory_limit", "--dry-run.memory", "the node's memory / 4 ranks", ...
};

// "80GB" = 80·10^9, "512MiB" = 512·2^20; units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB in any case, a
// decimal number before them. UsageError naming `key` (the flag or config key) with an example.
uint64_t parse_memory_size(const std::string& text, const std::string& key);

// training.memory_limit when set, else `device` (device_memory_bytes(), described by the caller).
MemoryLimit memory_limit_of(const TrainConfig& config, const MemoryLimit& device);

// The memory one rank of `device` may use. CPU: the node's MemTotal (/proc/meminfo) divided by the
// `ranks_on_node` ranks sharing it; 0 when unreadable. CUDA: the device's total memory.
uint64_t device_memory_bytes(const c10::Device& device, int64_t ranks_on_node);

// Every pipeline stage of `plan` within `limit` (always, when the limit is unknown).
bool fits(const Plan& plan, const MemoryLimit& limit);

// The memory table (one row per pipeline stage, with its ranks, "fits" / "does NOT fit") and the
// step-time split, as nf-train --dry-run prints them.
std::string plan_report(const Plan& plan, const MemoryLimit& limit);

// A config the planner evaluated, and the command-line keys that turn the user's config into it.
struct Candidate {
  std::string keys;  // "--parallel.zero 3 --training.recompute full"
  Plan plan;
};

// The keys that select `plan`'s layout: "--parallel.dp 2 --parallel.tp 1 --parallel.pp 2
// --parallel.zero 1 --training.recompute full" (fitting_layouts()' keys).
std::string layout_keys(const Plan& plan);

// Every (dp, tp, pp) with dp·tp·pp = world_size that nf accepts, × parallel.zero 0..3 (> 0 only
// with dp > 1) × training.recompute none/selective/full, that fits `limit`; fastest first, then
// smallest peak. The keys set dp, tp, pp, zero and recompute explicitly.
std::vector<Candidate> fitting_layouts(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit,
                                       const PlanOptions& options = {});
std::string layouts_table(const std::vector<Candidate>& layouts, int64_t world_size, const MemoryLimit& limit);

// When `config` does not fit: the few cheapest (by step time) changes that make it fit, tried as
// single changes first, then combined: --parallel.zero 3 (dp > 1), --training.recompute full,
// --training.recompute selective, --training.micro_batch_size 1 and half of it. Empty when
// nothing tried fits.
std::vector<Candidate> fixes_that_fit(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit,
                                      const PlanOptions& options = {});

// What nf-train --dry-run reports, computed once for its text and its JSON.
struct DryRun {
  int64_t world_size = 1;
  MemoryLimit limit;
  Plan plan;  // of the config as given
  bool fits = true;
  std::vector<Candidate> fixes;                   // fixes_that_fit(), when it does not fit
  std::optional<std::vector<Candidate>> layouts;  // fitting_layouts(), with --dry-run.layouts all
};
DryRun dry_run(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit, const PlanOptions& options,
               bool all_layouts);

// nf-train --dry-run's output: plan_report(), the fixes when it does not fit, and with the layouts
// the layouts_table().
std::string dry_run_report(const DryRun& run);

// --dry-run.json's content (docs/memory.md): {"world_size", "plan", "limit_bytes", "limit_source",
// "fits", and with the layouts "layouts": [plan, ...] fastest first}; a plan holds its layout, its
// assumptions, the keys that select it, its step-time split and one object per pipeline stage.
std::string dry_run_json(const DryRun& run);

// Before training: a ConfigError when any pipeline stage's predicted peak exceeds `limit`; its
// message holds the plan and the keys of the fixes_that_fit().
void check_fits(const TrainConfig& config, int64_t world_size, const MemoryLimit& limit,
                const PlanOptions& options = {});

}  // namespace nf::train
