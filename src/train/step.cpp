#include "step.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cmath>

#include "nf/model/loss.h"
#include "nf/parallel/pp/executor.h"

namespace nf::train {
namespace {

// Σ over the dp ranks of (sum, count), in fp64 so counts stay exact; the loss sum lives on the
// last pipeline stage only, so it is also summed over pp (every stage counts the same tokens).
// On `device`, the one the mesh's dp and pp backends carry (NCCL takes no host tensors).
LossTotals all_reduce_totals(double sum, double count, const dist::Mesh& mesh, const c10::Device& device) {
  at::Tensor totals = torch::tensor({sum, count}, torch::kFloat64).to(device);
  if (mesh.dp().size() > 1) mesh.dp().all_reduce(totals, dist::ReduceOp::kSum)->wait();
  at::Tensor loss_sum = totals.narrow(0, 0, 1).clone();
  if (mesh.pp().size() > 1) mesh.pp().all_reduce(loss_sum, dist::ReduceOp::kSum)->wait();
  return {loss_sum.item<double>(), totals[1].item<double>()};
}

int64_t local_count(const DeviceBatch& batch) { return batch.loss_mask.sum().item<int64_t>(); }

// The loss of rows [begin, begin + length) from their logits (vocab-parallel under tp).
model::LossSum micro_batch_loss(model::CausalLM& model, const at::Tensor& logits, const DeviceBatch& batch,
                                int64_t begin, int64_t length) {
  return model->loss(logits, batch.targets.narrow(0, begin, length), batch.loss_mask.narrow(0, begin, length));
}

int64_t micro_batch_count(const DeviceBatch& batch, int64_t micro_batch_size) {
  return (batch.inputs.size(0) + micro_batch_size - 1) / micro_batch_size;
}

// This stage's part of micro-batch m (rows [m·size, ...)): embedding on the first stage, its
// layers, and on the last stage the head, whose logits go to `head`, whose result is what backward
// starts from. One pipeline stage (pp = 1) is the whole model.
parallel::pp::StageCallbacks stage_callbacks(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                                             bool bf16_autocast, HeadFunction head) {
  const int64_t rows = batch.inputs.size(0);
  const auto length = [rows, micro_batch_size](int64_t m) {
    return std::min(micro_batch_size, rows - m * micro_batch_size);
  };
  parallel::pp::StageCallbacks stage;
  stage.input_shape = [&model, &batch, length](int64_t m) {
    return model->hidden_shape(length(m), batch.inputs.size(1));  // a sequence shard under sequence parallelism
  };
  stage.forward = [&model, &batch, micro_batch_size, bf16_autocast, length, head = std::move(head)](
                      int64_t m, const at::Tensor& input) {
    const Bf16Autocast autocast(bf16_autocast);  // the loss is computed in fp32 either way (loss.h)
    const model::StagePart& part = model->part();
    const int64_t begin = m * micro_batch_size;
    at::Tensor x = part.embedding ? model->embed(batch.inputs.narrow(0, begin, length(m))) : input;
    const at::Tensor documents =
        batch.document_ids.defined() ? batch.document_ids.narrow(0, begin, length(m)) : at::Tensor();
    x = model->forward_layers(x, part.first_layer, part.first_layer + part.n_layers, documents);
    if (!part.head) return x;
    return head(model->head(x), begin, length(m));
  };
  return stage;
}

torch::TensorOptions activation_options(const DeviceBatch& batch) {
  // The residual stream stays fp32 under autocast (fp32 embedding plus bf16 branch outputs).
  return torch::TensorOptions().dtype(torch::kFloat).device(batch.inputs.device());
}

}  // namespace

DeviceBatch to_device(const data::Batch& batch, const c10::Device& device) {
  const std::vector<int64_t> shape = {batch.rows, batch.seq_len};
  auto tokens = [&](const std::vector<data::TokenId>& ids) {
    return torch::from_blob(const_cast<data::TokenId*>(ids.data()), shape, torch::kInt32).to(device, torch::kInt64);
  };
  if (!batch.paragraph_lengths.empty()) {
    const auto copy = [&](const std::vector<int64_t>& values, std::vector<int64_t> sizes) {
      return torch::from_blob(const_cast<int64_t*>(values.data()), sizes, torch::kInt64)
          .to(device, torch::kInt64, /*non_blocking=*/false, /*copy=*/true);  // the batch's memory goes
    };
    const auto slots = static_cast<int64_t>(batch.paragraph_lengths.size()) / batch.rows;
    DeviceBatch out;
    out.inputs = tokens(batch.inputs);
    out.paragraph_lengths = copy(batch.paragraph_lengths, {batch.rows, slots});
    out.emotions = copy(batch.emotions, {batch.rows});
    return out;
  }
  at::Tensor mask = torch::from_blob(const_cast<uint8_t*>(batch.loss_mask.data()), shape, torch::kUInt8);
  at::Tensor documents;
  if (!batch.document_ids.empty()) {
    documents = torch::from_blob(const_cast<int64_t*>(batch.document_ids.data()), shape, torch::kInt64)
                    .to(device, torch::kInt64, /*non_blocking=*/false, /*copy=*/true);  // the batch's memory goes
  }
  return {tokens(batch.inputs), tokens(batch.targets), mask.to(device, torch::kBool), documents, {}, {}};
}

void run_training_schedule(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                           const dist::Mesh& mesh, parallel::pp::ScheduleKind schedule, bool bf16_autocast,
                           const BackwardHooks& hooks, HeadFunction head) {
  parallel::pp::StageCallbacks stage = stage_callbacks(model, batch, micro_batch_size, bf16_autocast, std::move(head));
  stage.before_last_backward = hooks.before_last_backward;
  // One stage: 1F1B is forward then backward per micro-batch, plain gradient accumulation.
  const auto kind = mesh.pp().size() == 1 ? parallel::pp::ScheduleKind::k1F1B : schedule;
  const auto actions =
      parallel::pp::make_schedule(kind, mesh.pp().size(), mesh.pp().rank(), micro_batch_count(batch, micro_batch_size));
  parallel::pp::execute(actions, mesh.pp(), stage, activation_options(batch));
  hooks.after_backward();
}

void run_forward(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size, const dist::Mesh& mesh,
                 bool bf16_autocast, HeadFunction head) {
  torch::NoGradGuard no_grad;
  const parallel::pp::StageCallbacks stage =
      stage_callbacks(model, batch, micro_batch_size, bf16_autocast, std::move(head));
  std::vector<parallel::pp::Action> forwards;
  for (int64_t m = 0; m < micro_batch_count(batch, micro_batch_size); ++m) {
    forwards.push_back({parallel::pp::ActionType::kForward, m});
  }
  parallel::pp::execute(forwards, mesh.pp(), stage, activation_options(batch));
}

LossTotals forward_backward(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size,
                            const dist::Mesh& mesh, parallel::pp::ScheduleKind schedule, bool bf16_autocast,
                            const BackwardHooks& hooks) {
  // The global count comes first: every micro-batch's gradient is scaled by it.
  const LossTotals counted =
      all_reduce_totals(0.0, static_cast<double>(local_count(batch)), mesh, batch.inputs.device());
  const double scale = counted.count > 0 ? 1.0 / counted.count : 0.0;
  double local_sum = 0;
  run_training_schedule(model, batch, micro_batch_size, mesh, schedule, bf16_autocast, hooks,
                        [&](const at::Tensor& logits, int64_t begin, int64_t length) {
                          const model::LossSum part = micro_batch_loss(model, logits, batch, begin, length);
                          local_sum += part.sum.item<double>();
                          return part.sum * scale;
                        });
  return {all_reduce_totals(local_sum, 0.0, mesh, batch.inputs.device()).sum, counted.count};
}

LossTotals evaluate(model::CausalLM& model, const DeviceBatch& batch, int64_t micro_batch_size, const dist::Mesh& mesh,
                    bool bf16_autocast) {
  double sum = 0;
  run_forward(model, batch, micro_batch_size, mesh, bf16_autocast,
              [&](const at::Tensor& logits, int64_t begin, int64_t length) {
                const model::LossSum part = micro_batch_loss(model, logits, batch, begin, length);
                sum += part.sum.item<double>();
                return part.sum;
              });
  return all_reduce_totals(sum, static_cast<double>(local_count(batch)), mesh, batch.inputs.device());
}

Bf16Autocast::Bf16Autocast(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
}

}  // namespace nf::train
