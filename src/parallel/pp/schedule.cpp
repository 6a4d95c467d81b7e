// GPipe and 1F1B action lists, their activation peak, and the layer partition across stages.
#include "nf/parallel/pp/schedule.h"

#include <algorithm>

#include "nf/core/error.h"

namespace nf::parallel::pp {
namespace {

void check_arguments(int64_t stages, int64_t stage, int64_t micro_batches) {
  NF_CHECK(stages >= 1 && stage >= 0 && stage < stages && micro_batches >= 1, ConfigError,
           "pipeline schedule needs 0 <= stage (", stage, ") < stages (", stages, ") and micro_batches (",
           micro_batches, ") >= 1");
}

}  // namespace

std::vector<Action> gpipe_schedule(int64_t stages, int64_t stage, int64_t micro_batches) {
  check_arguments(stages, stage, micro_batches);
  std::vector<Action> actions;
  for (int64_t m = 0; m < micro_batches; ++m) actions.push_back({ActionType::kForward, m});
  for (int64_t m = micro_batches - 1; m >= 0; --m) actions.push_back({ActionType::kBackward, m});
  return actions;
}

std::vector<Action> one_f_one_b_schedule(int64_t stages, int64_t stage, int64_t micro_batches) {
  check_arguments(stages, stage, micro_batches);
  const int64_t warmup = std::min(stages - stage - 1, micro_batches);
  std::vector<Action> actions;
  int64_t next_forward = 0, next_backward = 0;
  for (; next_forward < warmup; ++next_forward) actions.push_back({ActionType::kForward, next_forward});
  // Steady state: one forward, then one backward, while forwards remain.
  while (next_forward < micro_batches) {
    actions.push_back({ActionType::kForward, next_forward++});
    actions.push_back({ActionType::kBackward, next_backward++});
  }
  while (next_backward < micro_batches) actions.push_back({ActionType::kBackward, next_backward++});
  return actions;
}

std::vector<Action> make_schedule(ScheduleKind kind, int64_t stages, int64_t stage, int64_t micro_batches) {
  return kind == ScheduleKind::kGPipe ? gpipe_schedule(stages, stage, micro_batches)
                                      : one_f_one_b_schedule(stages, stage, micro_batches);
}

int64_t peak_in_flight(const std::vector<Action>& actions) {
  int64_t in_flight = 0, peak = 0;
  for (const Action& action : actions) {
    in_flight += action.type == ActionType::kForward ? 1 : -1;
    peak = std::max(peak, in_flight);
  }
  return peak;
}

std::vector<StageLayers> partition_layers(int64_t n_layers, int64_t stages,
                                          const std::vector<int64_t>& layers_per_stage) {
  NF_CHECK(stages >= 1 && n_layers >= stages, ConfigError, "model.n_layers (", n_layers,
           ") must be at least parallel.pp (", stages, "): every pipeline stage needs a layer");
  std::vector<int64_t> counts = layers_per_stage;
  if (counts.empty()) {
    for (int64_t s = 0; s < stages; ++s) counts.push_back(n_layers / stages + (s < n_layers % stages ? 1 : 0));
  }
  int64_t total = 0;
  for (int64_t count : counts) {
    NF_CHECK(count >= 1, ConfigError, "parallel.pp_layers: every stage needs at least one layer");
    total += count;
  }
  NF_CHECK(static_cast<int64_t>(counts.size()) == stages && total == n_layers, ConfigError, "parallel.pp_layers has ",
           counts.size(), " stages holding ", total, " layers; expected parallel.pp (", stages,
           ") stages holding model.n_layers (", n_layers, ") layers");
  std::vector<StageLayers> partition;
  int64_t first = 0;
  for (int64_t count : counts) {
    partition.push_back({first, count});
    first += count;
  }
  return partition;
}

}  // namespace nf::parallel::pp
