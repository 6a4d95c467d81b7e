// AdamW (adamw.h): the update math mirrors torch.optim.AdamW's single-tensor path op for op, so
// the Python reference test can compare closely.
#include "nf/optim/adamw.h"

#include <ATen/ATen.h>

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

void adamw_update(at::Tensor& param, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq, int64_t step,
                  double lr, double weight_decay, const AdamWOptions& o) {
  at::NoGradGuard no_grad;
  const bool fp32 = param.scalar_type() == at::kFloat;
  at::Tensor master = fp32 ? param : param.to(at::kFloat);
  const at::Tensor g = grad.to(at::kFloat);
  master.mul_(1.0 - lr * weight_decay);
  exp_avg.mul_(o.beta1).add_(g, 1.0 - o.beta1);
  exp_avg_sq.mul_(o.beta2).addcmul_(g, g, 1.0 - o.beta2);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, static_cast<double>(step)));
  const at::Tensor denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(o.eps);
  master.addcdiv_(exp_avg, denom, -lr / bias_correction1);
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
