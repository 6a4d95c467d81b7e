// AdamW (decoupled weight decay, bias-corrected, fp32 state) over tensors the caller hands in.
// The update is a free function on (param, grad, exp_avg, exp_avg_sq) views, so a ZeRO shard can
// run it over its flat slice; the AdamW class applies it per tensor and owns saveable state.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nf::optim {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct AdamWOptions {
  double beta1 = 0.9;         // training.adam_beta1
  double beta2 = 0.95;        // training.adam_beta2
  double eps = 1e-8;          // training.adam_eps
  double weight_decay = 0.1;  // training.weight_decay, for parameters not matched below
  // Parameters whose name contains any of these get no weight decay: norms and embeddings.
  std::vector<std::string> no_decay_patterns = {"norm", "embed_tokens"};

  AdamWOptions& with_betas(double b1, double b2) {
    beta1 = b1;
    beta2 = b2;
    return *this;
  }
  AdamWOptions& with_eps(double value) {
    eps = value;
    return *this;
  }
  AdamWOptions& with_weight_decay(double value) {
    weight_decay = value;
    return *this;
  }
  AdamWOptions& with_no_decay_patterns(std::vector<std::string> value) {
    no_decay_patterns = std::move(value);
    return *this;
  }

  // The weight decay of the parameter `name` under these options.
  double weight_decay_for(const std::string& name) const;
};

// One AdamW update of `param` in place, identical to torch.optim.AdamW (single-tensor path):
//   param *= 1 - lr·wd;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
//   param -= lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
// `step` is t ≥ 1 after this update. exp_avg/exp_avg_sq are fp32; a non-fp32 param is updated in
// fp32 and written back. Any matching views work (a whole tensor or a flat shard).
void adamw_update(at::Tensor& param, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq, int64_t step,
                  double lr, double weight_decay, const AdamWOptions& options);

class AdamW {
 public:
  // Holds references to the parameters (their storage is updated in place).
  AdamW(NamedTensors parameters, AdamWOptions options);

  // One update with learning rate `lr` of every parameter that has a gradient; a parameter
  // without one is skipped (its moments are left alone) but the step counter still advances.
  void step(double lr);
  void zero_grad();

  int64_t step_count() const { return step_; }
  const AdamWOptions& options() const { return options_; }
  const NamedTensors& parameters() const { return parameters_; }

  // The state, exactly: "step" (int64 scalar) and "<name>.exp_avg" / "<name>.exp_avg_sq" per parameter.
  NamedTensors state() const;
  // Restores state() output; throws CheckpointError naming a missing key or a wrong shape.
  void load_state(const NamedTensors& state);

 private:
  NamedTensors parameters_;
  AdamWOptions options_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  int64_t step_ = 0;
};

}  // namespace nf::optim
