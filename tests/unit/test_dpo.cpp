// The stages' losses on explicit numbers, against values computed here by hand in double
// precision (no LibTorch in the reference): the DPO loss with and without label smoothing, its
// rewards and its gradient, and the per-row response log-probabilities DPO scores responses by.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "nf/core/error.h"
#include "nf/model/dpo_loss.h"
#include "nf/model/loss.h"

namespace nf {
namespace {

// −log σ(x) = log(1 + e^(−x)).
double neg_log_sigmoid(double x) { return std::log1p(std::exp(-x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct Pair {
  double policy_chosen, policy_rejected, reference_chosen, reference_rejected;
};
// Summed response log-probs, as a 7B model gives them: large negative sums, small differences.
const std::vector<Pair> kPairs = {{-120.5, -131.25, -122.0, -130.0},
                                  {-40.0, -38.5, -41.0, -39.75},
                                  {-9.0, -60.0, -9.5, -10.0},
                                  {-75.125, -75.125, -75.125, -75.125}};

torch::Tensor column(double Pair::*field, bool requires_grad = false) {
  std::vector<double> values;
  for (const Pair& pair : kPairs) values.push_back(pair.*field);
  return torch::tensor(values, torch::kFloat).set_requires_grad(requires_grad);
}

void check_dpo(double beta, double label_smoothing) {
  SCOPED_TRACE("beta " + std::to_string(beta) + ", label_smoothing " + std::to_string(label_smoothing));
  torch::Tensor chosen = column(&Pair::policy_chosen, true);
  torch::Tensor rejected = column(&Pair::policy_rejected, true);
  const model::DpoTerms terms = model::dpo_loss(chosen, rejected, column(&Pair::reference_chosen),
                                                column(&Pair::reference_rejected), {beta, label_smoothing});
  terms.losses.sum().backward();
  for (size_t i = 0; i < kPairs.size(); ++i) {
    const Pair& p = kPairs[i];
    const double x = beta * ((p.policy_chosen - p.policy_rejected) - (p.reference_chosen - p.reference_rejected));
    const double loss = (1 - label_smoothing) * neg_log_sigmoid(x) + label_smoothing * neg_log_sigmoid(-x);
    // d loss / dx = −(1 − ls)·σ(−x) + ls·σ(x); x moves with +beta·chosen and −beta·rejected.
    const double dloss_dx = -(1 - label_smoothing) * sigmoid(-x) + label_smoothing * sigmoid(x);
    const auto k = static_cast<int64_t>(i);
    EXPECT_NEAR(terms.losses[k].item<double>(), loss, 1e-6 * std::max(1.0, loss)) << "pair " << i;
    EXPECT_NEAR(terms.chosen_rewards[k].item<double>(), beta * (p.policy_chosen - p.reference_chosen), 1e-5);
    EXPECT_NEAR(terms.rejected_rewards[k].item<double>(), beta * (p.policy_rejected - p.reference_rejected), 1e-5);
    EXPECT_NEAR(chosen.grad()[k].item<double>(), beta * dloss_dx, 1e-6) << "pair " << i;
    EXPECT_NEAR(rejected.grad()[k].item<double>(), -beta * dloss_dx, 1e-6) << "pair " << i;
  }
  EXPECT_FALSE(terms.chosen_rewards.requires_grad());
}

TEST(DpoLoss, MatchesTheHandComputedLossRewardsAndGradient) {
  check_dpo(0.1, 0.0);
  check_dpo(0.5, 0.0);
}

TEST(DpoLoss, LabelSmoothingMixesInTheFlippedPreference) {
  check_dpo(0.1, 0.1);
  check_dpo(0.25, 0.5);
}

TEST(DpoLoss, PolicyEqualToReferenceGivesLn2AndNoRewards) {
  const torch::Tensor logps = torch::tensor({-3.0, -7.5, -1.25}, torch::kFloat);
  const torch::Tensor other = torch::tensor({-4.0, -2.0, -9.0}, torch::kFloat);
  const model::DpoTerms terms = model::dpo_loss(logps, other, logps, other, {0.1, 0.2});
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(terms.losses[i].item<double>(), std::log(2.0), 1e-7);
    EXPECT_EQ(terms.chosen_rewards[i].item<double>(), 0.0);
    EXPECT_EQ(terms.rejected_rewards[i].item<double>(), 0.0);
  }
  EXPECT_THROW(model::dpo_loss(logps, other.narrow(0, 0, 2), logps, other, {}), UsageError);
}

TEST(SequenceLogProbs, SumsLogSoftmaxOfTheTargetsOverTheMaskedTokensOfEachRow) {
  // 2 rows of 3 tokens over a vocabulary of 4; the log-softmax is computed here by hand.
  const std::vector<std::vector<std::vector<double>>> logits = {
      {{1.0, 2.0, 0.5, -1.0}, {0.0, 0.0, 0.0, 0.0}, {3.0, -2.0, 1.0, 0.25}},
      {{-1.0, 4.0, 2.0, 0.0}, {0.5, 0.5, 1.5, -0.5}, {2.0, 2.0, -3.0, 1.0}}};
  const std::vector<std::vector<int64_t>> targets = {{1, 3, 2}, {0, 2, 3}};
  const std::vector<std::vector<int>> mask = {{0, 1, 1}, {1, 0, 1}};
  std::vector<float> flat;
  for (const auto& row : logits) {
    for (const auto& token : row) flat.insert(flat.end(), token.begin(), token.end());
  }
  const torch::Tensor logits_tensor = torch::tensor(flat).view({2, 3, 4});
  const torch::Tensor targets_tensor = torch::tensor({1, 3, 2, 0, 2, 3}, torch::kLong).view({2, 3});
  const torch::Tensor mask_tensor = torch::tensor({0, 1, 1, 1, 0, 1}, torch::kInt).view({2, 3}).to(torch::kBool);
  const torch::Tensor ours = model::sequence_log_probs(logits_tensor, targets_tensor, mask_tensor);
  ASSERT_EQ(ours.sizes(), c10::IntArrayRef({2}));
  for (int row = 0; row < 2; ++row) {
    double expected = 0;
    for (int t = 0; t < 3; ++t) {
      if (!mask[row][t]) continue;
      double sum_exp = 0;
      for (double value : logits[row][t]) sum_exp += std::exp(value);
      expected += logits[row][t][targets[row][t]] - std::log(sum_exp);
    }
    EXPECT_NEAR(ours[row].item<double>(), expected, 1e-5) << "row " << row;
  }
}

}  // namespace
}  // namespace nf
