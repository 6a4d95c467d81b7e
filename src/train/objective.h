// What a run trains (training.objective): an objective, built for the run's model, turns a batch
// into the scalar each micro-batch's backward starts from, and into the totals the log reports. The
// trainer runs whichever the config names, through this interface only; a new objective is one file
// that implements it, its ObjectiveKind, which make_objective builds, and one entry in the registry
// (objectives.cpp, the LibTorch-free objective_spec.h). Private to src/train.
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
#include "nf/model/paragraph_model.h"
#include "nf/model/transformer.h"
#include "nf/parallel/dp/flat_parameters.h"
#include "nf/train/config.h"
#include "nf/train/metrics.h"
#include "objective_spec.h"
#include "step.h"

namespace nf::train {

// The global batch's result of a step or an evaluation, the same on every rank.
struct ObjectiveTotals {
  double loss = 0;
  std::optional<PreferenceMetrics> rewards;  // preference objectives
  NamedValues terms;                         // the loss's parts and statistics (the neuralflow stages)
};

class Objective {
 public:
  virtual ~Objective() = default;
  // Forward and backward of this rank's stage of the model over its rows of the batch, under the
  // pipeline schedule; once summed over dp the gradients are those of the global batch's loss.
  virtual ObjectiveTotals forward_backward(const DeviceBatch& batch, const BackwardHooks& hooks) = 0;
  // The same over `batches` batches (batch(i) makes the i-th) without gradients (validation).
  virtual ObjectiveTotals evaluate(const std::function<DeviceBatch(uint64_t)>& batch, uint64_t batches) = 0;
};

// Overwrites parameters outside the gradient update (the VQ codebook's EMA and dead-code
// restarts): each (name, whole new value), on every dp rank alike; the optimizer's copies follow.
using ParameterWriter = std::function<void(const parallel::dp::NamedTensors& values)>;

// What an objective is built from: the job's config and mesh, the model it trains (the one
// model.arch names: `lm` or `paragraph`), its precision and schedule, and a frozen copy of the
// starting model for the objectives that keep one (DPO's reference).
struct ObjectiveContext {
  const TrainConfig& config;
  const dist::Mesh& mesh;
  model::CausalLM lm{nullptr};               // model.arch llama
  model::ParagraphModel paragraph{nullptr};  // model.arch neuralflow
  ParameterWriter write_parameters;          // the paragraph objectives'
  bool bf16_autocast = false;
  parallel::pp::ScheduleKind schedule = parallel::pp::ScheduleKind::k1F1B;
  std::function<model::CausalLM()> starting_model;  // a new model holding the run's starting weights
  std::string starting_weights;                     // where they come from; "" = the seeded initialization
  Logger& log;
};

// The objectives of the registry (one file each).
std::unique_ptr<Objective> make_next_token_objective(const ObjectiveContext& context);
std::unique_ptr<Objective> make_dpo_objective(const ObjectiveContext& context);
std::unique_ptr<Objective> make_paragraph_objective(const ObjectiveSpec& spec, const ObjectiveContext& context);

// The objective `spec` describes, built for `context`.
inline std::unique_ptr<Objective> make_objective(const ObjectiveSpec& spec, const ObjectiveContext& context) {
  switch (spec.kind) {
    case ObjectiveKind::kNextToken:
      return make_next_token_objective(context);
    case ObjectiveKind::kDpo:
      return make_dpo_objective(context);
    case ObjectiveKind::kParagraph:
      break;
  }
  return make_paragraph_objective(spec, context);
}

}  // namespace nf::train
