// Global-norm gradient clipping, split into the parts a distributed caller needs: a local
// squared-norm partial sum (to all-reduce over the ranks that hold disjoint parameter pieces),
// the clip coefficient from the global norm, and the in-place scaling.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace nf::optim {

// Σ over the parameters' gradients of Σ g² (fp32 scalar on the gradients' device; no host sync).
// Parameters without a gradient are skipped. Under TP/PP, each element must be counted by exactly
// one rank (replicated pieces by one of their holders) before the sums are all-reduced.
at::Tensor grad_norm_squared(const std::vector<at::Tensor>& parameters);

// min(1, max_norm / (total_norm + 1e-6)), as torch.nn.utils.clip_grad_norm_; 1 when max_norm ≤ 0
// (clipping off).
at::Tensor clip_coefficient(const at::Tensor& total_norm, double max_norm);

// g *= coefficient for every gradient (coefficient: a scalar tensor, so no host sync).
void scale_gradients(const std::vector<at::Tensor>& parameters, const at::Tensor& coefficient);

// One process's whole clip: returns the pre-clip global norm and scales the gradients so it is at
// most max_norm (max_norm ≤ 0 only measures).
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm);

}  // namespace nf::optim
