// AdamW (adamw.h): the update math mirrors torch.optim.AdamW's single-tensor path op for op, so
// the Python reference test can compare closely; on fp32 CPU tensors it runs as one fused sweep.
#include "nf/optim/adamw.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <map>

#include "nf/core/error.h"

namespace nf::optim {

double AdamWOptions::weight_decay_for(const std::string& name) const {
  for (const auto& pattern : no_decay_patterns) {
    if (name.find(pattern) != std::string::npos) return 0.0;
  }
  return weight_decay;
}

namespace {

// The update's scalars, each rounded to fp32 once as ATen does for a Scalar operand.
struct Coefficients {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, step_size;
};

Coefficients coefficients(int64_t step, double lr, double weight_decay, const AdamWOptions& o) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, static_cast<double>(step)));
  return {static_cast<float>(1.0 - lr * weight_decay),
          static_cast<float>(o.beta1),
          static_cast<float>(1.0 - o.beta1),
          static_cast<float>(o.beta2),
          static_cast<float>(1.0 - o.beta2),
          static_cast<float>(bias_correction2_sqrt),
          static_cast<float>(o.eps),
          static_cast<float>(-lr / bias_correction1)};
}

// fp32 CPU tensors: the whole update in one sweep over (param, grad, m, v) per element, instead of
// the nine ATen ops below, each a full pass over memory (the optimizer step of the small preset
// is memory-bound: ~3 GB of traffic instead of ~10 GB per step). Same operations in the same
// order per element; this file is built with -fno-math-errno so std::sqrt vectorizes.
void fused_cpu_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                      const Coefficients& c) {
  at::parallel_for(0, n, /*grain_size=*/1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = grad[i];
      const float m = exp_avg[i] * c.beta1 + c.one_minus_beta1 * g;
      const float v = exp_avg_sq[i] * c.beta2 + c.one_minus_beta2 * g * g;
      const float denom = std::sqrt(v) / c.bias_correction2_sqrt + c.eps;
      param[i] = param[i] * c.decay + c.step_size * (m / denom);
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
    }
  });
}

bool fusable(const at::Tensor& param, const at::Tensor& grad, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq) {
  for (const at::Tensor* t : {&param, &grad, &exp_avg, &exp_avg_sq}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous()) return false;
  }
  return true;
}

}  // namespace

void adamw_update(at::Tensor& param, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq, int64_t step,
                  double lr, double weight_decay, const AdamWOptions& o) {
  at::NoGradGuard no_grad;
  const Coefficients c = coefficients(step, lr, weight_decay, o);
  if (fusable(param, grad, exp_avg, exp_avg_sq)) {
    fused_cpu_update(param.data_ptr<float>(), grad.data_ptr<float>(), exp_avg.data_ptr<float>(),
                     exp_avg_sq.data_ptr<float>(), param.numel(), c);
    return;
  }
  const bool fp32 = param.scalar_type() == at::kFloat;
  at::Tensor master = fp32 ? param : param.to(at::kFloat);
  const at::Tensor g = grad.to(at::kFloat);
  master.mul_(c.decay);
  exp_avg.mul_(c.beta1).add_(g, c.one_minus_beta1);
  exp_avg_sq.mul_(c.beta2).addcmul_(g, g, c.one_minus_beta2);
  const at::Tensor denom = (exp_avg_sq.sqrt() / c.bias_correction2_sqrt).add_(c.eps);
  master.addcdiv_(exp_avg, denom, c.step_size);
  if (!fp32) param.copy_(master);
}

AdamW::AdamW(NamedTensors parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(std::move(options)) {
  for (const auto& [name, param] : parameters_) {
    exp_avg_.push_back(at::zeros_like(param, param.options().dtype(at::kFloat)));
    exp_avg_sq_.push_back(at::zeros_like(param, param.options().dtype(at::kFloat)));
  }
}

void AdamW::step(double lr) {
  ++step_;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& [name, param] = parameters_[i];
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    adamw_update(param, grad, exp_avg_[i], exp_avg_sq_[i], step_, lr, options_.weight_decay_for(name), options_);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, param] : parameters_) {
    if (param.grad().defined()) param.mutable_grad().zero_();
  }
}

NamedTensors AdamW::state() const {
  NamedTensors state{{"step", at::scalar_tensor(step_, at::kLong)}};
  for (size_t i = 0; i < parameters_.size(); ++i) {
    state.emplace_back(parameters_[i].first + ".exp_avg", exp_avg_[i]);
    state.emplace_back(parameters_[i].first + ".exp_avg_sq", exp_avg_sq_[i]);
  }
  return state;
}

void AdamW::load_state(const NamedTensors& state) {
  const std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  const auto find = [&](const std::string& key) -> const at::Tensor& {
    const auto it = by_name.find(key);
    if (it == by_name.end()) throw CheckpointError("optimizer state has no entry '" + key + "'");
    return it->second;
  };
  at::NoGradGuard no_grad;
  const auto restore = [&](const std::string& key, at::Tensor& target) {
    const at::Tensor& saved = find(key);
    NF_CHECK(saved.sizes() == target.sizes(), CheckpointError, "optimizer state '", key, "' has shape ", saved.sizes(),
             ", the parameter has ", target.sizes());
    target.copy_(saved);
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    restore(parameters_[i].first + ".exp_avg", exp_avg_[i]);
    restore(parameters_[i].first + ".exp_avg_sq", exp_avg_sq_[i]);
  }
  step_ = find("step").item<int64_t>();
}

}  // namespace nf::optim
