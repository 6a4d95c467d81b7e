#include "step.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cmath>

#include "nf/model/loss.h"
#include "nf/optim/grad_clip.h"

namespace nf::train {
namespace {

// Σ of (sum, count) over the dp ranks, in fp64 so counts stay exact.
LossTotals all_reduce_totals(double sum, double count, const dist::Mesh& mesh) {
  at::Tensor totals = torch::tensor({sum, count}, torch::kFloat64);
  if (mesh.dp().size() > 1) mesh.dp().all_reduce(totals, dist::ReduceOp::kSum)->wait();
  return {totals[0].item<double>(), totals[1].item<double>()};
}

int64_t local_count(const DeviceBatch& batch) { return batch.loss_mask.sum().item<int64_t>(); }

// The loss of rows [begin, begin + length): through the vocab-parallel cross-entropy when the
// model's logits are split over tp.
model::LossSum micro_batch_loss(model::CausalLM& model, const DeviceBatch& batch, int64_t begin, int64_t length) {
  const at::Tensor logits = model->forward(batch.inputs.narrow(0, begin, length));
  const at::Tensor targets = batch.targets.narrow(0, begin, length);
  const at::Tensor mask = batch.loss_mask.narrow(0, begin, length);
  dist::Communicator* tp = model->tp();
  if (tp != nullptr && tp->size() > 1) {
    return model::vocab_parallel_cross_entropy_sum(logits, targets, model->config().vocab_size, *tp, mask);
  }
  return model::cross_entropy_sum(logits, targets, mask);
}

}  // namespace

DeviceBatch to_device(const data::Batch& batch, const c10::Device& device) {
  const std::vector<int64_t> shape = {batch.rows, batch.seq_len};
  auto tokens = [&](const std::vector<data::TokenId>& ids) {
    return torch::from_blob(const_cast<data::TokenId*>(ids.data()), shape, torch::kInt32).to(device, torch::kInt64);
  };
  at::Tensor mask = torch::from_blob(const_cast<uint8_t*>(batch.loss_mask.data()), shape, torch::kUInt8);
  return {tokens(batch.inputs), tokens(batch.targets), mask.to(device, torch::kBool)};
}

LossTotals forward_backward(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                            const dist::Mesh& mesh, bool bf16_autocast,
                            const std::function<void()>& before_last_backward) {
  // The global count comes first: every micro-batch's gradient is scaled by it.
  const LossTotals counted = all_reduce_totals(0.0, static_cast<double>(local_count(batch)), mesh);
  const double scale = counted.count > 0 ? 1.0 / counted.count : 0.0;
  double local_sum = 0;
  const int64_t rows = batch.inputs.size(0);
  for (int64_t begin = 0; begin < rows; begin += micro_batch_size) {
    const int64_t length = std::min(micro_batch_size, rows - begin);
    const Bf16Autocast autocast(bf16_autocast);  // the loss is computed in fp32 either way (loss.h)
    const model::LossSum part = micro_batch_loss(model, batch, begin, length);
    if (begin + length == rows) before_last_backward();
    (part.sum * scale).backward();
    local_sum += part.sum.item<double>();
  }
  return {all_reduce_totals(local_sum, 0.0, mesh).sum, counted.count};
}

LossTotals evaluate(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size, const dist::Mesh& mesh,
                    bool bf16_autocast) {
  torch::NoGradGuard no_grad;
  const Bf16Autocast autocast(bf16_autocast);
  double sum = 0, count = 0;
  const int64_t rows = batch.inputs.size(0);
  for (int64_t begin = 0; begin < rows; begin += micro_batch_size) {
    const int64_t length = std::min(micro_batch_size, rows - begin);
    const model::LossSum part = micro_batch_loss(model, batch, begin, length);
    sum += part.sum.item<double>();
    count += static_cast<double>(part.count.item<int64_t>());
  }
  return all_reduce_totals(sum, count, mesh);
}

Bf16Autocast::Bf16Autocast(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
  at::autocast::set_enabled(false);
  at::autocast::clear_cache();
}

double global_grad_norm(const model::CausalLM& model, const std::vector<std::pair<std::string, at::Tensor>>& parameters,
                        const dist::Mesh& mesh) {
  std::vector<at::Tensor> sharded, replicated;
  for (const auto& [name, parameter] : parameters) {
    (model->shard_spec_of(name).dim < 0 ? replicated : sharded).push_back(parameter);
  }
  // Every tp rank holds the replicated tensors (the norms): count them once over tp.
  const double tp = static_cast<double>(mesh.tp().size());
  at::Tensor squares = (optim::grad_norm_squared(sharded).to(torch::kFloat64) +
                        optim::grad_norm_squared(replicated).to(torch::kFloat64) / tp)
                           .reshape({1})
                           .cpu();
  if (mesh.tp().size() > 1) mesh.tp().all_reduce(squares, dist::ReduceOp::kSum)->wait();
  return std::sqrt(squares.item<double>());
}

}  // namespace nf::train
