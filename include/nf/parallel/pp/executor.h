// Runs one stage's share of a pipeline schedule (schedule.h) over p2p send/recv on the pp
// communicator. The stage's computation comes in as a callback, so this file knows nothing of the
// model: forward(m, input) maps micro-batch m's input activation (undefined on the first stage) to
// its output activation, or on the last stage to the scalar it backpropagates (the scaled loss).
// Sends are asynchronous and awaited at the end, receives block under the communicator's timeout:
// no schedule can deadlock on a send, and a dead neighbour ends the job with a DistError.
#pragma once

#include <torch/types.h>

#include <functional>
#include <vector>

#include "nf/dist/communicator.h"
#include "nf/parallel/pp/schedule.h"

namespace nf::parallel::pp {

struct StageCallbacks {
  // Micro-batch m's output from its input (requires grad when training; undefined on stage 0).
  std::function<torch::Tensor(int64_t m, const torch::Tensor& input)> forward;
  // The shape of the activation entering this stage for micro-batch m (stages > 0).
  std::function<std::vector<int64_t>(int64_t m)> input_shape;
  // Called once, right before the schedule's last backward (gradient-sync arming, tied weights).
  std::function<void()> before_last_backward = [] {};
};

// Executes `actions` (this stage's list) on stage pp.rank() of pp.size(). Activations travel as
// `options` tensors (dtype and device). Forward-only lists (evaluation) keep no activations.
void execute(const std::vector<Action>& actions, dist::Communicator& pp, const StageCallbacks& stage,
             const torch::TensorOptions& options);

}  // namespace nf::parallel::pp
