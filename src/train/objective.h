// What a run trains (training.objective): an objective turns a batch into the scalar each micro-batch's
// backward starts from, and into the totals the log reports. The trainer runs whichever the config
// names, through this interface only; a new objective is one file that implements it and one entry
// in the registry (objectives.cpp). Private to src/train.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nf/core/logging.h"
#include "nf/data/shard_format.h"
#include "nf/dist/mesh.h"
#include "nf/model/transformer.h"
#include "nf/train/config.h"
#include "nf/train/metrics.h"
#include "step.h"

namespace nf::train {

// The global batch's result of a step or an evaluation, the same on every rank.
struct ObjectiveTotals {
  double loss = 0;
  std::optional<PreferenceMetrics> rewards;  // preference objectives
};

class Objective {
 public:
  virtual ~Objective() = default;
  // Forward and backward of this rank's stage of `model` over its rows of the batch, under the
  // pipeline schedule; once summed over dp the gradients are those of the global batch's loss.
  virtual ObjectiveTotals forward_backward(model::CausalLM& model, const DeviceBatch& batch,
                                           const BackwardHooks& hooks) = 0;
  // The same over `batches` batches (batch(i) makes the i-th) without gradients (validation).
  virtual ObjectiveTotals evaluate(model::CausalLM& model, const std::function<DeviceBatch(uint64_t)>& batch,
                                   uint64_t batches) = 0;
};

// What an objective is built from: the job's config and mesh, its precision and schedule, and a
// frozen copy of the starting model for the objectives that keep one (DPO's reference).
struct ObjectiveContext {
  const TrainConfig& config;
  const dist::Mesh& mesh;
  bool bf16_autocast = false;
  parallel::pp::ScheduleKind schedule = parallel::pp::ScheduleKind::k1F1B;
  std::function<model::CausalLM()> starting_model;  // a new model holding the run's starting weights
  std::string starting_weights;                     // where they come from; "" = the seeded initialization
  Logger& log;
};

// One entry of the registry.
struct ObjectiveSpec {
  std::string name;                          // training.objective
  std::vector<data::DatasetFormat> formats;  // the datasets it trains on (the first is the one to build)
  int64_t rows_per_sample = 1;               // rows of the batch per sample (two per preference pair)
  double flops_factor = 1.0;                 // model FLOPs per token against one forward-backward
  std::string unpacked_rows;                 // why training.document_mask does not apply; "" = it does
  std::function<std::unique_ptr<Objective>(const ObjectiveContext&)> make;
};

// Every objective, in registry order, and their names (the accepted values of training.objective).
const std::vector<ObjectiveSpec>& objectives();
std::vector<std::string> objective_names();
// The objective `name`; UsageError when there is none (the config schema refuses such names first).
const ObjectiveSpec& find_objective(const std::string& name);

// The objectives of the registry (one file each).
std::unique_ptr<Objective> make_next_token_objective(const ObjectiveContext& context);
std::unique_ptr<Objective> make_dpo_objective(const ObjectiveContext& context);

}  // namespace nf::train
