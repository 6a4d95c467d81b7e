// Adaptive computation time (Graves 2016, "Adaptive Computation Time for Recurrent Neural
// Networks"): how the NeuralFlow brain thinks a variable number of steps per paragraph. Given each
// step's halting probability, the steps taken, the weight of each step's state in the output and
// the ponder cost the loss adds (its ponder_cost_weight times).
#pragma once

#include <ATen/Tensor.h>

namespace nf::model {

struct Halting {
  at::Tensor weights;      // [N, S]: p_i before the halting step, the remainder at it, 0 after; rows sum to 1
  at::Tensor steps;        // [N] int64: the halting step N (1-based)
  at::Tensor remainder;    // [N]: R = 1 − Σ_{i<N} p_i
  at::Tensor ponder_cost;  // [N]: N + R (its gradient flows through R)
};

// halt_probs [N, S] in (0, 1): the halting probability after each of S = model.max_ponder_steps
// steps. A row halts at the first step whose cumulative probability reaches `threshold` (1 − ε),
// or at the last step.
Halting act_halting(const at::Tensor& halt_probs, double threshold);

}  // namespace nf::model
