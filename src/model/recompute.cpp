// Activation recomputation (recompute.h): an autograd node that keeps a function's inputs, not its
// intermediates, and reruns it in backward.
#include "nf/model/recompute.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

namespace nf::model {
namespace {

using Function = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

// The backward of recomputed(): runs fn again with autograd recording, from detached copies of the
// inputs, and backpropagates the incoming gradient through that graph. The reentrant backward
// accumulates the parameters' gradients (and fires their accumulator hooks, as GradSync's overlap
// needs) exactly as the original graph would have; the inputs' gradients are passed on. The
// forward's CUDA autocast state is restored for the rerun (backward runs outside the trainer's
// autocast scope, possibly on the engine's device thread), else it would compute in other dtypes.
class RecomputeBackward : public torch::autograd::Node {
 public:
  RecomputeBackward(Function fn, std::vector<at::Tensor> inputs)
      : Node(torch::autograd::collect_next_edges(inputs)),
        fn_(std::move(fn)),
        inputs_(std::move(inputs)),
        autocast_(at::autocast::is_autocast_enabled(at::kCUDA)),
        autocast_dtype_(at::autocast::get_autocast_dtype(at::kCUDA)) {}

  std::string name() const override { return "nf::model::RecomputeBackward"; }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    std::vector<at::Tensor> detached;
    for (const at::Tensor& input : inputs_) detached.push_back(input.detach().requires_grad_(input.requires_grad()));
    {
      at::AutoGradMode record(true);
      const AutocastAs autocast(autocast_, autocast_dtype_);
      const at::Tensor output = fn_(detached);
      torch::autograd::backward({output}, {grads.at(0)});
    }
    torch::autograd::variable_list input_grads;
    for (const at::Tensor& input : detached) input_grads.push_back(input.requires_grad() ? input.grad() : at::Tensor());
    // The graph is used once (no retain_graph): drop the inputs now, not when the graph is freed.
    inputs_.clear();
    fn_ = nullptr;
    return input_grads;
  }

 private:
  // Sets this thread's CUDA autocast state for its lifetime and puts the previous one back; the
  // weight casts it cached are dropped with it, as the trainer's autocast scope does.
  class AutocastAs {
   public:
    AutocastAs(bool enabled, at::ScalarType dtype)
        : previous_(at::autocast::is_autocast_enabled(at::kCUDA)),
          previous_dtype_(at::autocast::get_autocast_dtype(at::kCUDA)),
          changed_(enabled != previous_) {
      if (!changed_) return;
      at::autocast::set_autocast_dtype(at::kCUDA, dtype);
      at::autocast::set_autocast_enabled(at::kCUDA, enabled);
    }
    ~AutocastAs() {
      if (!changed_) return;
      at::autocast::set_autocast_enabled(at::kCUDA, previous_);
      at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
      at::autocast::clear_cache();
    }
    AutocastAs(const AutocastAs&) = delete;
    AutocastAs& operator=(const AutocastAs&) = delete;

   private:
    bool previous_;
    at::ScalarType previous_dtype_;
    bool changed_;
  };

  Function fn_;
  std::vector<at::Tensor> inputs_;
  bool autocast_;
  at::ScalarType autocast_dtype_;
};

}  // namespace

at::Tensor recomputed(Function fn, const std::vector<at::Tensor>& inputs) {
  bool needs_grad = false;
  for (const at::Tensor& input : inputs) needs_grad = needs_grad || (input.defined() && input.requires_grad());
  // Without a gradient flowing in there is nothing to recompute for. (An input that needs none
  // while fn's parameters do, e.g. raw token embeddings frozen, would lose the parameters'
  // gradients through the node: it runs plainly instead.)
  if (!at::GradMode::is_enabled() || !needs_grad) return fn(inputs);
  at::Tensor output;
  {
    at::NoGradGuard no_grad;
    output = fn(inputs);
  }
  auto node =
      std::shared_ptr<RecomputeBackward>(new RecomputeBackward(std::move(fn), inputs), torch::autograd::deleteNode);
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace nf::model
