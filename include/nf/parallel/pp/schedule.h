// Pipeline schedules as data. A schedule is, for each stage, the ordered list of compute actions
// it performs in one training step; pure functions build them and tests check them without any
// communication. The executor derives the p2p traffic from each action: a forward of micro-batch
// m on stage s > 0 first receives its input activation from s−1 and then sends its output to
// s+1; a backward on stage s < last first receives the output gradient from s+1 and then sends
// the input gradient to s−1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nf/dist/mesh_shape.h"

namespace nf::parallel::pp {

enum class ActionType { kForward, kBackward };

struct Action {
  ActionType type;
  int64_t micro_batch;
  bool operator==(const Action& other) const { return type == other.type && micro_batch == other.micro_batch; }
};

// The schedule a job runs: parallel.pp_schedule, parsed when the config is loaded.
using ScheduleKind = dist::PipelineSchedule;

// GPipe: all forwards, then all backwards in reverse micro-batch order. Holds every micro-batch's
// activations at once.
std::vector<Action> gpipe_schedule(int64_t stages, int64_t stage, int64_t micro_batches);

// 1F1B (PipeDream-Flush): stage s warms up with min(stages − s − 1, m) forwards, then alternates
// one forward and one backward, then drains the remaining backwards. Holds at most
// min(stages − s, m) micro-batches' activations.
std::vector<Action> one_f_one_b_schedule(int64_t stages, int64_t stage, int64_t micro_batches);

std::vector<Action> make_schedule(ScheduleKind kind, int64_t stages, int64_t stage, int64_t micro_batches);

// The largest number of micro-batches whose activations a stage holds at once under `actions`.
int64_t peak_in_flight(const std::vector<Action>& actions);

// Which decoder layers each stage holds: [first, first + count). Balanced by default (the first
// n_layers % stages stages take one more, since the last stage also carries the LM head);
// `layers_per_stage` overrides (it must have `stages` entries summing to n_layers).
struct StageLayers {
  int64_t first = 0;
  int64_t count = 0;
};
std::vector<StageLayers> partition_layers(int64_t n_layers, int64_t stages,
                                          const std::vector<int64_t>& layers_per_stage);

}  // namespace nf::parallel::pp
