// Data-parallel training's side of a step, behind one object: the stage's parameters moved into
// flat buffers (flat_parameters.h), their gradients summed over dp in buckets overlapped with
// backward (grad_sync.h), the global gradient norm, clipping, and the AdamW update: replicated on
// every dp rank (ZeRO 0, optim/adamw.h) or sharded over dp (ZeRO 1, 2 and 3, sharded_adamw.h),
// with its state for checkpoints; under ZeRO 3 the parameters too (zero3.h: the model gathers each
// unit through unit_hooks()). The trainer calls arm(), reduce_gradients() and step() (or
// zero_grad() for a skipped update) and never asks which ZeRO stage runs.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "nf/dist/mesh.h"
#include "nf/optim/adamw.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/parallel/dp/grad_sync.h"
#include "nf/parallel/dp/sharded_adamw.h"
#include "nf/parallel/dp/zero3.h"

namespace nf::parallel::dp {

struct DataParallelOptions {
  int zero = 0;                     // parallel.zero: 0, 1, 2 or 3
  double bucket_mb = 25.0;          // parallel.bucket_mb
  bool overlap_grad_reduce = true;  // parallel.overlap_grad_reduce (with dp > 1)
  optim::AdamWOptions adamw;
};

// ZeRO-3's units: the unit of each parameter (model::unit_of) and those never freed.
struct ParameterUnits {
  std::function<std::string(const std::string&)> unit_of;
  std::set<std::string> pinned;
};

class DataParallelOptimizer {
 public:
  // `parameters`: this rank's stage's parameters (model::named_parameters), rebound here to views
  // of the flat buffers. `replicated_over_tp(name)`: whether every tp rank holds the tensor whole
  // (the norms), so the gradient norm counts it once. `units`: required by ZeRO 3. The mesh must
  // outlive this object.
  DataParallelOptimizer(NamedTensors parameters, const DataParallelOptions& options, const dist::Mesh& mesh,
                        std::function<bool(const std::string&)> replicated_over_tp, const ParameterUnits& units = {});

  // The parameters, as views of the flat buffer (what checkpoints save and load). Under ZeRO 3
  // they hold values only between gather_parameters() and release_parameters().
  const NamedTensors& parameters() const { return flat_.parameters(); }
  // ZeRO 3: what the model calls around each unit (CausalLM::set_unit_hooks); nullptr otherwise.
  UnitHooks* unit_hooks() { return gather_.get(); }
  // ZeRO 3: every parameter gathered (to save, load or read them), and freed again; no-ops below.
  // The optimizer starts gathered: load the weights, then release. Collective.
  void gather_parameters();
  void release_parameters();
  const FlatLayout& layout() const { return flat_.layout(); }
  int zero() const { return options_.zero; }
  // "ZeRO 1, 3 gradient buckets overlapped with backward", for the log.
  std::string describe() const;

  // Right before the last backward of a step: buckets start reducing as their gradients complete.
  void arm() { grad_sync_.arm(); }
  // After the step's backward: waits for every bucket's reduction and returns the global gradient
  // norm over every rank's parameters (tp shards on their ranks, replicated tensors once, pipeline
  // stages summed; under ZeRO 2 from each dp rank's reduced chunk). Collective.
  double reduce_gradients();
  // Clips the reduced gradients to `max_norm` (≤ 0: no clipping) by the norm of reduce_gradients,
  // updates the parameters with learning rate `lr` (every dp rank ends with the same ones) and
  // zeroes the gradients. Collective under ZeRO.
  void step(double lr, double max_norm);
  // Drops the step's gradients without an update (a non-finite loss or norm).
  void zero_grad();
  // Sets parameters outside the gradient update (the VQ codebook's EMA): each (name, whole new
  // value), the same on every dp rank; the ZeRO master shard follows, and the next step() updates
  // from there. Under ZeRO 3 each must be in a pinned unit (always gathered). UsageError for a name
  // that is not a parameter here.
  void assign(const NamedTensors& values);

  // The optimizer state for a checkpoint of this layout: per parameter (ZeRO 0, optim::AdamW::
  // state()'s form) or this rank's flat shard (ZeRO 1, 2, 3).
  NamedTensors state() const;
  // Restores it: `per_parameter` when the state is in AdamW's per-parameter form (ZeRO 0's, or a
  // checkpoint resharded from another layout), else this rank's flat shard as saved. Load the
  // parameters first: ZeRO's fp32 master is re-read from them.
  void load_state(const NamedTensors& state, bool per_parameter);

 private:
  DataParallelOptions options_;
  const dist::Mesh& mesh_;
  std::function<bool(const std::string&)> replicated_over_tp_;
  FlatParameters flat_;
  GradSync grad_sync_;
  std::unique_ptr<optim::AdamW> replicated_;  // ZeRO 0
  std::unique_ptr<ShardedAdamW> sharded_;     // ZeRO 1, 2 and 3
  std::unique_ptr<ParameterGather> gather_;   // ZeRO 3
  at::Tensor shard_grads_;                    // ZeRO: this rank's reduced chunk of the step's gradients
  double grad_norm_ = 0;
};

}  // namespace nf::parallel::dp
