// GradReadyHooks (grad_ready.h).
#include "nf/parallel/dp/grad_ready.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "nf/core/error.h"

namespace nf::parallel::dp {

class GradReadyHooks::Hook : public torch::autograd::FunctionPostHook {
 public:
  explicit Hook(std::function<void()> on_ready) : on_ready_(std::move(on_ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    on_ready_();
    return outputs;
  }

 private:
  std::function<void()> on_ready_;
};

GradReadyHooks::~GradReadyHooks() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(keys_[i]);
}

void GradReadyHooks::add(const at::Tensor& parameter, const std::string& name, std::function<void()> on_ready) {
  NF_CHECK(parameter.requires_grad() && parameter.is_leaf(), UsageError, "'", name,
           "' is not a leaf that requires grad: it has no gradient accumulator to hook");
  accumulators_.push_back(torch::autograd::impl::grad_accumulator(parameter));
  keys_.push_back(accumulators_.back()->add_post_hook(std::make_unique<Hook>(std::move(on_ready))));
}

}  // namespace nf::parallel::dp
