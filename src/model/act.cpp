// ACT's halting weights and ponder cost (act.h).
#include "nf/model/act.h"

#include <ATen/ATen.h>

namespace nf::model {

Halting act_halting(const at::Tensor& halt_probs, double threshold) {
  const int64_t steps = halt_probs.size(1);
  const at::Tensor cumulative = halt_probs.cumsum(1);
  // The cumulative probability before each step (0 before the first).
  const at::Tensor before = cumulative - halt_probs;
  at::Tensor reached = (cumulative >= threshold).detach();
  reached.select(1, steps - 1).fill_(true);  // the last step halts whatever the sum
  // The halting step: the first that reached the threshold (argmax of the first true).
  const at::Tensor index = reached.to(at::kInt).argmax(1);
  const at::Tensor position = at::arange(steps, halt_probs.options().dtype(at::kLong)).unsqueeze(0);
  const at::Tensor halting = index.unsqueeze(1);
  Halting out;
  out.remainder = 1 - before.gather(1, halting).squeeze(1);
  out.weights = at::where(position < halting, halt_probs,
                          at::where(position == halting, out.remainder.unsqueeze(1), at::zeros_like(halt_probs)));
  out.steps = index + 1;
  out.ponder_cost = out.steps.to(halt_probs.scalar_type()) + out.remainder;
  return out;
}

}  // namespace nf::model
