// Learning-rate schedules as pure functions of the optimizer step: linear warmup, then cosine,
// linear or constant. No state, so a resumed run only needs the step number.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nf::optim {

enum class LrDecay { kCosine, kLinear, kConstant };

// The config names of the decays (training.lr_schedule), the one place they are spelled.
const std::vector<std::pair<std::string, LrDecay>>& lr_decay_names();

struct LrScheduleOptions {
  double peak_lr = 3e-4;      // training.learning_rate
  double min_lr_ratio = 0.1;  // training.min_lr_ratio: the final lr is peak_lr · min_lr_ratio
  int64_t warmup_steps = 0;   // training.warmup_steps
  int64_t total_steps = 1;    // training.max_steps
  LrDecay decay = LrDecay::kCosine;

  LrScheduleOptions& with_peak_lr(double value) {
    peak_lr = value;
    return *this;
  }
  LrScheduleOptions& with_min_lr_ratio(double value) {
    min_lr_ratio = value;
    return *this;
  }
  LrScheduleOptions& with_warmup_steps(int64_t value) {
    warmup_steps = value;
    return *this;
  }
  LrScheduleOptions& with_total_steps(int64_t value) {
    total_steps = value;
    return *this;
  }
  LrScheduleOptions& with_decay(LrDecay value) {
    decay = value;
    return *this;
  }
};

// The lr of optimizer step `step` (0-based: the first update is step 0).
//   warmup, step < W:  peak · (step + 1) / W            (never 0; step W-1 reaches the peak)
//   decay, W ≤ step:   progress p = min(1, (step - W) / (total - W))  (p = 1 when total ≤ W)
//     cosine:   min + (peak - min) · (1 + cos(π p)) / 2
//     linear:   peak - (peak - min) · p
//     constant: peak
// where min = peak · min_lr_ratio. Steps past total_steps stay at the final value.
double learning_rate_at(const LrScheduleOptions& options, int64_t step);

}  // namespace nf::optim
