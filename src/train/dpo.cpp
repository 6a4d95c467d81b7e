// DPO's step over the pipeline executor: reference log-probs, then the policy's training schedule.
#include "dpo.h"

#include <torch/torch.h>

#include "tied_embedding.h"

namespace nf::train {
namespace {

// Adds one micro-batch's terms to `totals`: the four sums in one read back from the device.
void add_terms(PreferenceTotals& totals, const model::DpoTerms& terms) {
  const at::Tensor sums =
      torch::stack({terms.losses.detach().sum(), terms.chosen_rewards.sum(), terms.rejected_rewards.sum(),
                    (terms.chosen_rewards > terms.rejected_rewards).sum().to(terms.losses.dtype())})
          .to(torch::kCPU, torch::kFloat64);
  const auto value = sums.accessor<double, 1>();
  totals.loss_sum += value[0];
  totals.chosen_reward_sum += value[1];
  totals.rejected_reward_sum += value[2];
  totals.correct += value[3];
  totals.pairs += static_cast<double>(terms.losses.size(0));
}

}  // namespace

PreferenceMetrics PreferenceTotals::metrics() const {
  const double n = pairs > 0 ? pairs : 1.0;
  return {chosen_reward_sum / n, rejected_reward_sum / n, correct / n, (chosen_reward_sum - rejected_reward_sum) / n};
}

PreferenceTotals& PreferenceTotals::operator+=(const PreferenceTotals& other) {
  loss_sum += other.loss_sum;
  chosen_reward_sum += other.chosen_reward_sum;
  rejected_reward_sum += other.rejected_reward_sum;
  correct += other.correct;
  pairs += other.pairs;
  return *this;
}

DeviceBatch pair_micro_batches(const DeviceBatch& batch, int64_t pairs_per_micro_batch) {
  const int64_t pairs = batch.inputs.size(0) / 2;
  std::vector<int64_t> order;
  for (int64_t first = 0; first < pairs; first += pairs_per_micro_batch) {
    const int64_t count = std::min(pairs_per_micro_batch, pairs - first);
    for (int64_t k = 0; k < count; ++k) order.push_back(first + k);          // chosen rows
    for (int64_t k = 0; k < count; ++k) order.push_back(pairs + first + k);  // rejected rows
  }
  const at::Tensor index = torch::tensor(order, torch::kLong).to(batch.inputs.device());
  DeviceBatch paired;  // dpo rows are not packed: no document ids
  paired.inputs = batch.inputs.index_select(0, index);
  paired.targets = batch.targets.index_select(0, index);
  paired.loss_mask = batch.loss_mask.index_select(0, index);
  return paired;
}

DpoObjective::DpoObjective(model::CausalLM policy, model::CausalLM reference, const dist::Mesh& mesh,
                           const model::DpoOptions& options, int64_t pairs_per_micro_batch, bool bf16_autocast,
                           parallel::pp::ScheduleKind schedule)
    : policy_(std::move(policy)),
      reference_(std::move(reference)),
      mesh_(mesh),
      options_(options),
      pairs_per_micro_batch_(pairs_per_micro_batch),
      bf16_autocast_(bf16_autocast),
      schedule_(schedule) {
  // Under LoRA the reference is the policy itself with its adapters off (its base is frozen already).
  if (!reference_->has_lora()) {
    for (auto& parameter : reference_->parameters()) parameter.set_requires_grad(false);
  }
  TiedEmbedding(reference_, mesh).sync_weight();
}

at::Tensor DpoObjective::reference_log_probs(const DeviceBatch& paired) {
  at::Tensor out;
  if (reference_->part().head) {
    out = torch::empty({paired.inputs.size(0)},
                       torch::TensorOptions().dtype(torch::kFloat).device(paired.inputs.device()));
  }
  // Under LoRA: the base, without a second model in memory (the adapters back on however this ends).
  struct AdaptersOff {
    model::CausalLM& model;
    explicit AdaptersOff(model::CausalLM& m) : model(m) { model->set_lora_enabled(false); }
    ~AdaptersOff() { model->set_lora_enabled(true); }
  } adapters_off(reference_);
  run_forward(reference_, paired, 2 * pairs_per_micro_batch_, mesh_, bf16_autocast_,
              [&](const at::Tensor& logits, int64_t begin, int64_t length) {
                out.narrow(0, begin, length)
                    .copy_(reference_->sequence_log_probs(logits, paired.targets.narrow(0, begin, length),
                                                          paired.loss_mask.narrow(0, begin, length)));
                return at::Tensor();
              });
  return out;
}

model::DpoTerms DpoObjective::micro_batch_terms(model::CausalLM& policy, const at::Tensor& logits,
                                                const DeviceBatch& paired, const at::Tensor& reference, int64_t begin,
                                                int64_t length) const {
  const at::Tensor log_probs = policy->sequence_log_probs(logits, paired.targets.narrow(0, begin, length),
                                                          paired.loss_mask.narrow(0, begin, length));
  const int64_t pairs = length / 2;
  return model::dpo_loss(log_probs.narrow(0, 0, pairs), log_probs.narrow(0, pairs, pairs),
                         reference.narrow(0, begin, pairs), reference.narrow(0, begin + pairs, pairs), options_);
}

ObjectiveTotals DpoObjective::forward_backward(const DeviceBatch& batch, const BackwardHooks& hooks) {
  model::CausalLM& policy = policy_;
  const DeviceBatch paired = pair_micro_batches(batch, pairs_per_micro_batch_);
  const at::Tensor reference = reference_log_probs(paired);
  // Every dp rank holds the same number of pairs: the mean over the global batch divides by this.
  const double global_pairs = static_cast<double>(paired.inputs.size(0) / 2 * mesh_.dp().size());
  PreferenceTotals local;
  run_training_schedule(policy, paired, 2 * pairs_per_micro_batch_, mesh_, schedule_, bf16_autocast_, hooks,
                        [&](const at::Tensor& logits, int64_t begin, int64_t length) {
                          const model::DpoTerms terms =
                              micro_batch_terms(policy, logits, paired, reference, begin, length);
                          add_terms(local, terms);
                          return terms.losses.sum() / global_pairs;
                        });
  const PreferenceTotals totals = all_reduce(local, paired.inputs.device());
  return {totals.loss(), totals.metrics(), {}};
}

ObjectiveTotals DpoObjective::evaluate(const std::function<DeviceBatch(uint64_t)>& batch, uint64_t batches) {
  PreferenceTotals total;
  for (uint64_t i = 0; i < batches; ++i) {
    const DeviceBatch one = batch(i);
    total += all_reduce(local_evaluation(policy_, one), one.inputs.device());
  }
  return {total.loss(), total.metrics(), {}};
}

PreferenceTotals DpoObjective::local_evaluation(model::CausalLM& policy, const DeviceBatch& batch) {
  const DeviceBatch paired = pair_micro_batches(batch, pairs_per_micro_batch_);
  const at::Tensor reference = reference_log_probs(paired);
  PreferenceTotals local;
  run_forward(policy, paired, 2 * pairs_per_micro_batch_, mesh_, bf16_autocast_,
              [&](const at::Tensor& logits, int64_t begin, int64_t length) {
                add_terms(local, micro_batch_terms(policy, logits, paired, reference, begin, length));
                return at::Tensor();
              });
  return local;
}

// The last pipeline stage of every dp rank holds its pairs' totals: sum over dp, then over pp
// (the other stages add zeros). Every tp rank computed the same values, so tp needs nothing.
PreferenceTotals DpoObjective::all_reduce(const PreferenceTotals& local, const c10::Device& device) const {
  at::Tensor totals =
      torch::tensor({local.loss_sum, local.chosen_reward_sum, local.rejected_reward_sum, local.correct, local.pairs},
                    torch::kFloat64)
          .to(device);
  if (mesh_.dp().size() > 1) mesh_.dp().all_reduce(totals, dist::ReduceOp::kSum)->wait();
  if (mesh_.pp().size() > 1) mesh_.pp().all_reduce(totals, dist::ReduceOp::kSum)->wait();
  const at::Tensor host = totals.cpu();
  const auto value = host.accessor<double, 1>();
  return {value[0], value[1], value[2], value[3], value[4]};
}

std::unique_ptr<Objective> make_dpo_objective(const ObjectiveContext& context) {
  const TrainConfig& config = context.config;
  context.log.info("dpo: reference model from ",
                   context.starting_weights.empty()
                       ? "the seeded initialization (training.seed " + std::to_string(config.training.seed) + ")"
                       : context.starting_weights,
                   ", beta ", config.dpo.beta, ", label_smoothing ", config.dpo.label_smoothing);
  model::DpoOptions options;
  options.beta = config.dpo.beta;
  options.label_smoothing = config.dpo.label_smoothing;
  return std::make_unique<DpoObjective>(context.lm, context.starting_model(), context.mesh, options,
                                        config.training.micro_batch_size, context.bf16_autocast, context.schedule);
}

}  // namespace nf::train
