// Learning-rate schedules (lr_schedule.h).
#include "nf/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "nf/core/error.h"

namespace nf::optim {

const std::vector<std::pair<std::string, LrDecay>>& lr_decay_names() {
  static const std::vector<std::pair<std::string, LrDecay>> names = {
      {"cosine", LrDecay::kCosine}, {"linear", LrDecay::kLinear}, {"constant", LrDecay::kConstant}};
  return names;
}

double learning_rate_at(const LrScheduleOptions& o, int64_t step) {
  NF_CHECK(step >= 0, UsageError, "learning_rate_at: step ", step, " is negative");
  if (step < o.warmup_steps) {
    return o.peak_lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  const int64_t decay_steps = o.total_steps - o.warmup_steps;
  const double progress =
      decay_steps <= 0 ? 1.0
                       : std::min(1.0, static_cast<double>(step - o.warmup_steps) / static_cast<double>(decay_steps));
  const double min_lr = o.peak_lr * o.min_lr_ratio;
  switch (o.decay) {
    case LrDecay::kCosine:
      return min_lr + (o.peak_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
    case LrDecay::kLinear:
      return o.peak_lr - (o.peak_lr - min_lr) * progress;
    case LrDecay::kConstant:
      return o.peak_lr;
  }
  return o.peak_lr;
}

}  // namespace nf::optim
