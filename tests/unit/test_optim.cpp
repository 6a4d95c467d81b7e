// The optimizer layer: LR schedule values, the AdamW update by hand, weight decay by name, exact
// state save/restore, flat (ZeRO-style) views, and global-norm clipping from partial sums.
// Agreement with torch.optim.AdamW is checked by tests/python/adamw_reference.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nf/core/error.h"
#include "nf/optim/adamw.h"
#include "nf/optim/grad_clip.h"
#include "nf/optim/lr_schedule.h"

namespace nf::optim {
namespace {

class OptimTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(OptimTest, LrScheduleValues) {
  auto options =
      LrScheduleOptions().with_peak_lr(1e-3).with_min_lr_ratio(0.1).with_warmup_steps(10).with_total_steps(110);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 0), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 4), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 9), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 60), 5.5e-4);  // halfway: (peak + min) / 2
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 35), 1e-4 + 9e-4 * 0.5 * (1 + std::cos(M_PI / 4)));
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 110), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 500), 1e-4);
  options.with_decay(LrDecay::kLinear);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 35), 7.75e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 110), 1e-4);
  options.with_decay(LrDecay::kConstant);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 3), 4e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 1000), 1e-3);
  // No warmup: step 0 is the peak.
  EXPECT_DOUBLE_EQ(learning_rate_at(options.with_warmup_steps(0).with_decay(LrDecay::kCosine), 0), 1e-3);
  EXPECT_THROW(learning_rate_at(options, -1), UsageError);
}

TEST_F(OptimTest, AdamWFirstStepByHand) {
  torch::Tensor param = torch::tensor({1.0f});
  torch::Tensor m = torch::zeros({1}), v = torch::zeros({1});
  const auto options = AdamWOptions().with_betas(0.9, 0.95).with_eps(1e-8);
  adamw_update(param, torch::tensor({0.5f}), m, v, 1, /*lr=*/0.1, /*weight_decay=*/0.1, options);
  // decay: 1 · (1 - 0.01) = 0.99; m̂ = 0.5, v̂ = 0.25: step = 0.1 · 0.5 / (0.5 + 1e-8)
  EXPECT_NEAR(param.item<double>(), 0.99 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-7);
  EXPECT_NEAR(m.item<double>(), 0.05, 1e-8);
  EXPECT_NEAR(v.item<double>(), 0.0125, 1e-9);
}

TEST_F(OptimTest, WeightDecaySkipsNormsAndEmbeddingsByName) {
  const AdamWOptions options = AdamWOptions().with_weight_decay(0.5);
  EXPECT_EQ(options.weight_decay_for("model.layers.3.input_layernorm.weight"), 0.0);
  EXPECT_EQ(options.weight_decay_for("model.norm.weight"), 0.0);
  EXPECT_EQ(options.weight_decay_for("model.embed_tokens.weight"), 0.0);
  EXPECT_EQ(options.weight_decay_for("lm_head.weight"), 0.5);
  EXPECT_EQ(AdamWOptions(options).with_no_decay_patterns({}).weight_decay_for("model.norm.weight"), 0.5);
  // With zero gradients only the decoupled decay moves a parameter.
  NamedTensors params = {{"model.norm.weight", torch::ones({3}).requires_grad_()},
                         {"model.layers.0.mlp.up_proj.weight", torch::ones({2, 3}).requires_grad_()}};
  for (auto& [name, p] : params) p.mutable_grad() = torch::zeros_like(p);
  AdamW optimizer(params, options);
  optimizer.step(0.1);
  EXPECT_TRUE(torch::equal(params[0].second, torch::ones({3})));
  EXPECT_TRUE(torch::allclose(params[1].second, torch::full({2, 3}, 0.95)));
}

NamedTensors make_params(int64_t seed) {
  torch::manual_seed(seed);
  return {{"model.embed_tokens.weight", torch::randn({6, 4}).requires_grad_()},
          {"model.layers.0.self_attn.q_proj.weight", torch::randn({4, 4}).requires_grad_()},
          {"model.norm.weight", torch::randn({4}).requires_grad_()}};
}

void set_grads(NamedTensors& params, int64_t step) {
  torch::manual_seed(100 + step);
  for (auto& [name, p] : params) p.mutable_grad() = torch::randn_like(p);
}

TEST_F(OptimTest, StateRoundTripResumesBitForBit) {
  NamedTensors reference = make_params(1), resumed = make_params(1);
  AdamW uninterrupted(reference, AdamWOptions());
  AdamW first_half(resumed, AdamWOptions());
  for (int64_t step = 0; step < 3; ++step) {
    set_grads(reference, step), uninterrupted.step(1e-2);
    set_grads(resumed, step), first_half.step(1e-2);
  }
  // Through the serializer, as a checkpoint would carry it.
  c10::Dict<std::string, at::Tensor> saved;
  for (const auto& [key, value] : first_half.state()) saved.insert(key, value);
  const c10::Dict<c10::IValue, c10::IValue> loaded = torch::pickle_load(torch::pickle_save(saved)).toGenericDict();
  NamedTensors state;
  for (const auto& entry : loaded) state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  AdamW second_half(resumed, AdamWOptions());
  second_half.load_state(state);
  EXPECT_EQ(second_half.step_count(), 3);
  for (int64_t step = 3; step < 6; ++step) {
    set_grads(reference, step), uninterrupted.step(1e-2);
    set_grads(resumed, step), second_half.step(1e-2);
  }
  for (size_t i = 0; i < reference.size(); ++i) EXPECT_TRUE(torch::equal(reference[i].second, resumed[i].second));
  state.pop_back();
  EXPECT_THROW(second_half.load_state(state), CheckpointError);
}

TEST_F(OptimTest, FlatViewUpdateMatchesPerTensorUpdate) {
  NamedTensors params = make_params(2);
  set_grads(params, 0);
  std::vector<torch::Tensor> flat_params, flat_grads;
  for (const auto& [name, p] : params) {
    flat_params.push_back(p.detach().flatten().clone());
    flat_grads.push_back(p.grad().flatten());
  }
  torch::Tensor flat = torch::cat(flat_params), flat_grad = torch::cat(flat_grads);
  torch::Tensor m = torch::zeros_like(flat), v = torch::zeros_like(flat);
  const AdamWOptions options = AdamWOptions().with_weight_decay(0.1).with_no_decay_patterns({});
  // A ZeRO rank updates only its shard of the flat buffer: here two shards, split mid-tensor.
  for (auto [begin, length] : {std::pair<int64_t, int64_t>{0, 17}, {17, flat.numel() - 17}}) {
    torch::Tensor shard = flat.narrow(0, begin, length), m_shard = m.narrow(0, begin, length);
    torch::Tensor v_shard = v.narrow(0, begin, length);
    adamw_update(shard, flat_grad.narrow(0, begin, length), m_shard, v_shard, 1, 1e-2, 0.1, options);
  }
  AdamW optimizer(params, options);
  optimizer.step(1e-2);
  std::vector<torch::Tensor> updated;
  for (const auto& [name, p] : params) updated.push_back(p.detach().flatten());
  EXPECT_TRUE(torch::equal(torch::cat(updated), flat));
}

TEST_F(OptimTest, ParametersWithoutGradientsAreSkipped) {
  NamedTensors params = make_params(3);
  const torch::Tensor before = params[1].second.detach().clone();
  params[0].second.mutable_grad() = torch::randn_like(params[0].second);
  AdamW optimizer(params, AdamWOptions());
  optimizer.step(1e-2);
  EXPECT_TRUE(torch::equal(params[1].second, before));
  EXPECT_EQ(optimizer.step_count(), 1);
}

TEST_F(OptimTest, ClippingFromPartialSums) {
  NamedTensors named = make_params(4);
  set_grads(named, 0);
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : named) params.push_back(p);
  double expected_squares = 0;
  for (const auto& p : params) expected_squares += p.grad().to(torch::kDouble).square().sum().item<double>();
  // Two "ranks" holding disjoint parameters: the partial sums add up to the global square norm.
  const torch::Tensor partial = grad_norm_squared({params[0]}) + grad_norm_squared({params[1], params[2]});
  EXPECT_NEAR(partial.item<double>(), expected_squares, 1e-5 * expected_squares);
  const double norm = clip_grad_norm(params, 1.0);
  EXPECT_NEAR(norm, std::sqrt(expected_squares), 1e-5 * norm);
  EXPECT_NEAR(grad_norm_squared(params).sqrt().item<double>(), 1.0, 1e-5);
  // Below the threshold, and with clipping off, gradients are left alone.
  const double small = clip_grad_norm(params, 10.0);
  EXPECT_NEAR(small, 1.0, 1e-5);
  EXPECT_NEAR(grad_norm_squared(params).sqrt().item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(clip_grad_norm(params, 0.0), 1.0, 1e-5);
  EXPECT_EQ(grad_norm_squared({torch::ones({2})}).item<double>(), 0.0);
}

}  // namespace
}  // namespace nf::optim
