// Conjugate autograd functions for tensor and sequence parallelism over a dist::Communicator.
#include "nf/parallel/tp/mappings.h"

#include <torch/autograd.h>

#include "nf/core/error.h"

namespace nf::parallel::tp {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The communicator rides in the autograd context as a pointer; the Mesh that owns it outlives
// every forward and backward pass.
void remember(AutogradContext* ctx, dist::Communicator& tp) { ctx->saved_data["tp"] = reinterpret_cast<int64_t>(&tp); }
dist::Communicator& recall(AutogradContext* ctx) {
  return *reinterpret_cast<dist::Communicator*>(ctx->saved_data["tp"].toInt());
}

struct CopyToTp : torch::autograd::Function<CopyToTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, dist::Communicator& tp) {
    remember(ctx, tp);
    return input.view_as(input);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {all_reduce_copy(grads[0], recall(ctx), dist::ReduceOp::kSum), torch::Tensor()};
  }
};

struct ReduceFromTp : torch::autograd::Function<ReduceFromTp> {
  static torch::Tensor forward(AutogradContext*, const torch::Tensor& input, dist::Communicator& tp) {
    return all_reduce_copy(input, tp, dist::ReduceOp::kSum);
  }
  static variable_list backward(AutogradContext*, variable_list grads) { return {grads[0], torch::Tensor()}; }
};

// The sequence is dim 1 of activations [batch, seq, ...]; the communicator's collectives work on
// dim 0 of contiguous tensors, so both helpers move it to the front and back.
constexpr int64_t kSequenceDim = 1;

torch::Tensor all_gather_sequence(const torch::Tensor& input, dist::Communicator& tp) {
  const torch::Tensor local = input.movedim(kSequenceDim, 0).contiguous();
  std::vector<int64_t> shape = local.sizes().vec();
  shape[0] *= tp.size();
  torch::Tensor gathered = torch::empty(shape, local.options());
  tp.all_gather(local, gathered)->wait();  // rank r's positions land at [r·n, (r+1)·n)
  return gathered.movedim(0, kSequenceDim).contiguous();
}

torch::Tensor reduce_scatter_sequence_sum(const torch::Tensor& input, dist::Communicator& tp) {
  const int64_t seq = input.size(kSequenceDim);
  NF_CHECK(seq % tp.size() == 0, DistError, "sequence parallelism: sequence length ", seq, " is not divisible by tp (",
           tp.size(), ")");
  const torch::Tensor full = input.movedim(kSequenceDim, 0).contiguous();
  std::vector<int64_t> shape = full.sizes().vec();
  shape[0] /= tp.size();
  torch::Tensor local = torch::empty(shape, full.options());
  tp.reduce_scatter(full, local, dist::ReduceOp::kSum)->wait();  // chunk r: positions [r·n, (r+1)·n)
  return local.movedim(0, kSequenceDim).contiguous();
}

struct GatherSequence : torch::autograd::Function<GatherSequence> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, dist::Communicator& tp) {
    remember(ctx, tp);
    return all_gather_sequence(input, tp);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {reduce_scatter_sequence_sum(grads[0], recall(ctx)), torch::Tensor()};
  }
};

struct ReduceScatterSequence : torch::autograd::Function<ReduceScatterSequence> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, dist::Communicator& tp) {
    remember(ctx, tp);
    return reduce_scatter_sequence_sum(input, tp);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {all_gather_sequence(grads[0], recall(ctx)), torch::Tensor()};
  }
};

struct ScatterToTp : torch::autograd::Function<ScatterToTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, dist::Communicator& tp) {
    remember(ctx, tp);
    return slice_last_dim(input, tp);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {all_gather_last_dim(grads[0], recall(ctx)), torch::Tensor()};
  }
};

struct GatherFromTp : torch::autograd::Function<GatherFromTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, dist::Communicator& tp) {
    remember(ctx, tp);
    return all_gather_last_dim(input, tp);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {slice_last_dim(grads[0], recall(ctx)), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_copy(const torch::Tensor& input, dist::Communicator& tp, dist::ReduceOp op) {
  if (tp.size() == 1) return input;
  torch::Tensor buffer = input.contiguous().clone();
  tp.all_reduce(buffer, op)->wait();
  return buffer;
}

torch::Tensor all_gather_last_dim(const torch::Tensor& input, dist::Communicator& tp) {
  if (tp.size() == 1) return input;
  const torch::Tensor local = input.contiguous();
  std::vector<int64_t> shape{tp.size()};
  for (int64_t size : local.sizes()) shape.push_back(size);
  torch::Tensor gathered = torch::empty(shape, local.options());
  tp.all_gather(local, gathered)->wait();
  // [tp, ..., n] → [..., tp·n], rank r's chunk at columns [r·n, (r+1)·n).
  return torch::cat(gathered.unbind(0), -1);
}

torch::Tensor slice_last_dim(const torch::Tensor& input, dist::Communicator& tp) {
  if (tp.size() == 1) return input;
  const int64_t width = input.size(-1);
  NF_CHECK(width % tp.size() == 0, DistError, "tensor parallelism: last dimension ", width, " is not divisible by tp (",
           tp.size(), ")");
  const int64_t chunk = width / tp.size();
  return input.narrow(-1, tp.rank() * chunk, chunk).contiguous();
}

torch::Tensor copy_to_tp(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : CopyToTp::apply(input, tp);
}
torch::Tensor reduce_from_tp(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : ReduceFromTp::apply(input, tp);
}
torch::Tensor scatter_to_tp(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : ScatterToTp::apply(input, tp);
}
torch::Tensor gather_from_tp(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : GatherFromTp::apply(input, tp);
}
torch::Tensor gather_sequence(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : GatherSequence::apply(input, tp);
}
torch::Tensor reduce_scatter_sequence(const torch::Tensor& input, dist::Communicator& tp) {
  return tp.size() == 1 ? input : ReduceScatterSequence::apply(input, tp);
}

}  // namespace nf::parallel::tp
