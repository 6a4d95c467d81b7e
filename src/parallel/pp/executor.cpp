// The pipeline executor (executor.h).
#include "nf/parallel/pp/executor.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <map>
#include <memory>

#include "nf/core/error.h"
#include "nf/dist/p2p_tags.h"

namespace nf::parallel::pp {
namespace {

// Tags keep a micro-batch's activation and gradient apart on the same pair of ranks.
int activation_tag(int64_t m) { return dist::p2p_tags::pipeline(m, /*gradient=*/false); }
int gradient_tag(int64_t m) { return dist::p2p_tags::pipeline(m, /*gradient=*/true); }

struct InFlight {
  torch::Tensor input;   // the received activation (a leaf), undefined on stage 0
  torch::Tensor output;  // what backward starts from
};

}  // namespace

void execute(const std::vector<Action>& actions, dist::Communicator& pp, const StageCallbacks& stage,
             const torch::TensorOptions& options) {
  const int rank = pp.rank(), last = pp.size() - 1;
  int64_t last_backward = -1;
  for (size_t i = 0; i < actions.size(); ++i) {
    if (actions[i].type == ActionType::kBackward) last_backward = static_cast<int64_t>(i);
  }
  const bool training = last_backward >= 0;
  std::map<int64_t, InFlight> in_flight;
  // Sent tensors stay alive (and their sends pending) until the step's end.
  std::vector<std::pair<torch::Tensor, std::unique_ptr<dist::Work>>> sends;
  for (size_t i = 0; i < actions.size(); ++i) {
    const Action& action = actions[i];
    const int64_t m = action.micro_batch;
    if (action.type == ActionType::kForward) {
      torch::Tensor input;
      if (rank > 0) {
        input = torch::empty(stage.input_shape(m), options);
        pp.recv(input, rank - 1, activation_tag(m))->wait();
        if (training) input.requires_grad_();
      }
      torch::Tensor output = stage.forward(m, input);
      if (rank < last) {
        torch::Tensor sent = output.detach().contiguous();
        auto work = pp.send(sent, rank + 1, activation_tag(m));
        sends.emplace_back(std::move(sent), std::move(work));
      }
      if (training) in_flight[m] = {input, output};
      continue;
    }
    const auto found = in_flight.find(m);
    NF_CHECK(found != in_flight.end(), UsageError, "pipeline schedule: backward of micro-batch ", m,
             " before its forward on stage ", rank);
    const InFlight saved = found->second;
    in_flight.erase(found);
    torch::Tensor output_grad;
    if (rank < last) {
      output_grad = torch::empty(saved.output.sizes(), options);
      pp.recv(output_grad, rank + 1, gradient_tag(m))->wait();
    }
    if (static_cast<int64_t>(i) == last_backward) stage.before_last_backward();
    if (rank < last) {
      saved.output.backward(output_grad);
    } else {
      saved.output.backward();
    }
    if (rank > 0) {
      torch::Tensor sent = saved.input.grad().contiguous();
      auto work = pp.send(sent, rank - 1, gradient_tag(m));
      sends.emplace_back(std::move(sent), std::move(work));
    }
  }
  NF_CHECK(in_flight.empty(), UsageError, "pipeline schedule: ", in_flight.size(),
           " micro-batches ran forward without backward on stage ", rank);
  for (auto& [tensor, work] : sends) work->wait();
}

}  // namespace nf::parallel::pp
