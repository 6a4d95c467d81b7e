// Calls a function each time a parameter's gradient has been accumulated into its .grad: a post
// hook on the parameter's gradient accumulator (AccumulateGrad), which, unlike a tensor hook, runs
// once the gradient is in .grad. GradSync starts bucket reductions from it, ZeRO 3 frees units.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::autograd {
struct Node;
}

namespace nf::parallel::dp {

class GradReadyHooks {
 public:
  GradReadyHooks() = default;
  ~GradReadyHooks();  // removes every hook
  GradReadyHooks(const GradReadyHooks&) = delete;
  GradReadyHooks& operator=(const GradReadyHooks&) = delete;

  // `parameter`: a leaf that requires grad (UsageError naming `name` otherwise).
  void add(const at::Tensor& parameter, const std::string& name, std::function<void()> on_ready);

 private:
  class Hook;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: the hooks live on them
  std::vector<uintptr_t> keys_;
};

}  // namespace nf::parallel::dp
