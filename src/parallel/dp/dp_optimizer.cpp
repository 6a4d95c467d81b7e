// The data-parallel optimizer (dp_optimizer.h): GradSync, then AdamW or ShardedAdamW.
#include "nf/parallel/dp/dp_optimizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "nf/core/error.h"
#include "nf/optim/grad_clip.h"
#include "nf/parallel/dp/flat_layout.h"

namespace nf::parallel::dp {
namespace {

// ZeRO 3 cuts the buckets at units; the other stages by size only.
std::vector<std::string> units_of(const NamedTensors& parameters, int zero, const ParameterUnits& units) {
  if (zero != 3) return {};
  NF_CHECK(units.unit_of != nullptr, UsageError, "ZeRO 3 needs the parameters' units (ParameterUnits::unit_of)");
  std::vector<std::string> result;
  for (const auto& [name, tensor] : parameters) result.push_back(units.unit_of(name));
  return result;
}

}  // namespace

DataParallelOptimizer::DataParallelOptimizer(NamedTensors parameters, const DataParallelOptions& options,
                                             const dist::Mesh& mesh,
                                             std::function<bool(const std::string&)> replicated_over_tp,
                                             const ParameterUnits& units)
    : options_(options),
      mesh_(mesh),
      replicated_over_tp_(std::move(replicated_over_tp)),
      flat_(parameters, bucket_numel_for(options.bucket_mb, sizeof(float)), static_cast<int>(mesh.shape().dp()),
            units_of(parameters, options.zero, units)),
      grad_sync_(flat_, mesh.dp(), options.zero, options.overlap_grad_reduce && mesh.shape().dp() > 1) {
  // After the flat buffers exist: ZeRO's master weights start as a copy of the parameters, so
  // starting weights must be loaded into parameters() before this optimizer is built.
  if (options.zero == 0) {
    replicated_ = std::make_unique<optim::AdamW>(flat_.parameters(), options.adamw);
  } else {
    sharded_ = std::make_unique<ShardedAdamW>(flat_, mesh.dp(), options.adamw, /*gather_after_step=*/options.zero < 3);
  }
  if (options.zero == 3) gather_ = std::make_unique<ParameterGather>(flat_, *sharded_, mesh.dp(), units.pinned);
}

void DataParallelOptimizer::gather_parameters() {
  if (gather_) gather_->gather_all();
}

void DataParallelOptimizer::release_parameters() {
  if (gather_) gather_->release_all();
}

std::string DataParallelOptimizer::describe() const {
  const bool overlapped = options_.overlap_grad_reduce && mesh_.shape().dp() > 1;
  return "ZeRO " + std::to_string(options_.zero) + ", " + std::to_string(flat_.layout().buckets().size()) +
         " gradient buckets" + (overlapped ? " overlapped with backward" : "");
}

double DataParallelOptimizer::reduce_gradients() {
  grad_sync_.finish();
  if (sharded_) shard_grads_ = grad_sync_.shard_grads();
  // Σ g² of the gradients this rank holds, each replicated tensor counted 1/tp (every tp rank holds
  // it), reduced over the axes that split them: tp and pp always (disjoint shards and stages), and
  // dp under ZeRO 2 and 3, where each dp rank holds only its chunk of the summed gradients.
  const double tp = static_cast<double>(mesh_.tp().size());
  at::Tensor squares;
  std::vector<dist::Communicator*> axes = {&mesh_.tp(), &mesh_.pp()};
  if (options_.zero >= 2) {
    squares = sharded_->grad_squares(
        shard_grads_, [&](const std::string& name) { return replicated_over_tp_(name) ? 1.0 / tp : 1.0; });
    axes.insert(axes.begin(), &mesh_.dp());
  } else {
    std::vector<at::Tensor> sharded, replicated;
    for (const auto& [name, parameter] : flat_.parameters()) {
      (replicated_over_tp_(name) ? replicated : sharded).push_back(parameter);
    }
    // The sum stays on the parameters' device, where the tp and pp backends carry it.
    squares =
        (optim::grad_norm_squared(sharded).to(at::kDouble) + optim::grad_norm_squared(replicated).to(at::kDouble) / tp)
            .reshape({1});
  }
  for (dist::Communicator* axis : axes) {
    if (axis->size() > 1) axis->all_reduce(squares, dist::ReduceOp::kSum)->wait();
  }
  grad_norm_ = std::sqrt(squares.item<double>());
  return grad_norm_;
}

void DataParallelOptimizer::step(double lr, double max_norm) {
  // In fp32, as torch.nn.utils.clip_grad_norm_ computes it.
  const double clip = optim::clip_coefficient(at::scalar_tensor(grad_norm_, at::kFloat), max_norm).item<double>();
  if (sharded_) {
    sharded_->step(shard_grads_, lr, clip);
    if (gather_) {
      gather_->release_all();  // a unit prefetched and never used
      gather_->refresh_pinned();
    }
  } else {
    if (clip != 1.0) {
      std::vector<at::Tensor> tensors;
      for (const auto& [name, parameter] : flat_.parameters()) tensors.push_back(parameter);
      optim::scale_gradients(tensors, at::scalar_tensor(clip, at::kFloat));
    }
    replicated_->step(lr);
  }
  flat_.zero_grad();
  shard_grads_ = at::Tensor();  // ZeRO 1's copy of its chunks is the step's only: not held in between
}

void DataParallelOptimizer::assign(const NamedTensors& values) {
  at::NoGradGuard no_grad;
  for (const auto& [name, value] : values) {
    const auto found = std::find_if(flat_.parameters().begin(), flat_.parameters().end(),
                                    [&](const auto& parameter) { return parameter.first == name; });
    NF_CHECK(found != flat_.parameters().end(), UsageError, "assign: no parameter '", name, "' here");
    found->second.copy_(value);
    if (sharded_) sharded_->assign_master(name, value);
  }
}

void DataParallelOptimizer::zero_grad() {
  flat_.zero_grad();
  shard_grads_ = at::Tensor();
  if (gather_) gather_->release_all();
}

NamedTensors DataParallelOptimizer::state() const { return replicated_ ? replicated_->state() : sharded_->state(); }

void DataParallelOptimizer::load_state(const NamedTensors& state, bool per_parameter) {
  if (replicated_) {
    replicated_->load_state(state);  // reads both forms
  } else if (per_parameter) {
    sharded_->load_full_state(state);
  } else {
    sharded_->load_state(state);
  }
}

}  // namespace nf::parallel::dp
