// The next-token objective (pretrain, sft): the mean −log p over the batch's counted tokens
// (step.h's forward_backward and evaluate, which sum over dp and pp).
#include "objective.h"

namespace nf::train {
namespace {

class NextTokenObjective : public Objective {
 public:
  explicit NextTokenObjective(const ObjectiveContext& context)
      : model_(context.lm),
        mesh_(context.mesh),
        micro_batch_size_(context.config.training.micro_batch_size),
        bf16_autocast_(context.bf16_autocast),
        schedule_(context.schedule) {}

  ObjectiveTotals forward_backward(const DeviceBatch& batch, const BackwardHooks& hooks) override {
    return {train::forward_backward(model_, batch, micro_batch_size_, mesh_, schedule_, bf16_autocast_, hooks).mean(),
            std::nullopt,
            {}};
  }

  ObjectiveTotals evaluate(const std::function<DeviceBatch(uint64_t)>& batch, uint64_t batches) override {
    LossTotals total;
    for (uint64_t i = 0; i < batches; ++i) {
      const LossTotals part = train::evaluate(model_, batch(i), micro_batch_size_, mesh_, bf16_autocast_);
      total.sum += part.sum;
      total.count += part.count;
    }
    return {total.mean(), std::nullopt, {}};
  }

 private:
  model::CausalLM model_;
  const dist::Mesh& mesh_;
  int64_t micro_batch_size_;
  bool bf16_autocast_;
  parallel::pp::ScheduleKind schedule_;
};

}  // namespace

std::unique_ptr<Objective> make_next_token_objective(const ObjectiveContext& context) {
  return std::make_unique<NextTokenObjective>(context);
}

}  // namespace nf::train
