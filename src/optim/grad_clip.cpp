// Global-norm gradient clipping (grad_clip.h).
#include "nf/optim/grad_clip.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace nf::optim {

at::Tensor grad_norm_squared(const std::vector<at::Tensor>& parameters) {
  at::NoGradGuard no_grad;
  at::Tensor total;
  for (const auto& param : parameters) {
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    // The fp32 norm of the tensor in one pass, without a squared copy of the gradient.
    const at::Tensor norm = at::linalg_vector_norm(grad, 2, {}, false, at::kFloat);
    const at::Tensor squares = norm * norm;
    total = total.defined() ? total + squares : squares;
  }
  if (total.defined()) return total;
  // No gradient at all: zero, still on the parameters' device (the header's promise).
  return at::zeros({},
                   parameters.empty() ? at::TensorOptions(at::kFloat) : parameters.front().options().dtype(at::kFloat));
}

at::Tensor clip_coefficient(const at::Tensor& total_norm, double max_norm) {
  if (max_norm <= 0) return at::ones_like(total_norm);
  return (max_norm / (total_norm + 1e-6)).clamp_max(1.0);
}

void scale_gradients(const std::vector<at::Tensor>& parameters, const at::Tensor& coefficient) {
  at::NoGradGuard no_grad;
  for (const auto& param : parameters) {
    at::Tensor grad = param.grad();
    if (grad.defined()) grad.mul_(coefficient.to(grad.device(), grad.scalar_type()));
  }
}

double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  const at::Tensor total_norm = grad_norm_squared(parameters).sqrt();
  if (max_norm > 0) scale_gradients(parameters, clip_coefficient(total_norm, max_norm));
  return total_norm.item<double>();
}

}  // namespace nf::optim
