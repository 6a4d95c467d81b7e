// The data-parallel flat layout as arithmetic: reverse order, bucket cuts, padding to dp, shard
// segments covering every element exactly once; and the gradient views of FlatParameters.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nf/core/error.h"
#include "nf/parallel/dp/flat_parameters.h"

namespace nf::parallel::dp {
namespace {

const std::vector<std::pair<std::string, std::vector<int64_t>>> kShapes = {
    {"a", {4, 5}}, {"b", {7}}, {"c", {3, 3}}, {"d", {0}}, {"e", {11}}};

TEST(FlatLayout, ReverseOrderBucketsPaddedToDp) {
  const FlatLayout layout(kShapes, /*bucket_numel=*/16, /*dp_size=*/3);
  // Reverse: e(11) c(9) -> 20 ≥ 16 closes bucket 0; b(7) a(20) -> 27 closes bucket 1. d is empty.
  ASSERT_EQ(layout.buckets().size(), 2u);
  EXPECT_EQ(layout.buckets()[0].slots, (std::vector<size_t>{4, 2}));
  EXPECT_EQ(layout.buckets()[1].slots, (std::vector<size_t>{1, 0}));
  EXPECT_EQ(layout.buckets()[0].numel, 21);  // 20 padded to a multiple of 3
  EXPECT_EQ(layout.buckets()[1].numel, 27);
  EXPECT_EQ(layout.buckets()[1].offset, 21);
  EXPECT_EQ(layout.slots()[4].offset, 0);
  EXPECT_EQ(layout.slots()[2].offset, 11);
  EXPECT_EQ(layout.slots()[1].offset, 21);
  EXPECT_EQ(layout.slots()[0].offset, 28);
  EXPECT_EQ(layout.total_numel(), 48);
  EXPECT_EQ(layout.shard_numel(), 16);
  EXPECT_EQ(layout.buckets()[1].shard_offset, 7);
  EXPECT_EQ(layout.chunk_offset(1, 2), 21 + 18);
}

TEST(FlatLayout, ShardSegmentsCoverEveryElementOnce) {
  for (int dp_size : {1, 2, 3, 4, 7}) {
    for (int64_t bucket_numel : {1, 5, 16, 1000}) {
      const FlatLayout layout(kShapes, bucket_numel, dp_size);
      std::vector<std::vector<int>> seen(kShapes.size());
      for (size_t i = 0; i < kShapes.size(); ++i) seen[i].assign(layout.slots()[i].numel, 0);
      for (int rank = 0; rank < dp_size; ++rank) {
        int64_t previous_end = 0;
        for (const ShardSegment& segment : layout.shard_segments(rank)) {
          EXPECT_GE(segment.shard_offset, previous_end);
          previous_end = segment.shard_offset + segment.numel;
          EXPECT_LE(previous_end, layout.shard_numel());
          for (int64_t k = 0; k < segment.numel; ++k) ++seen[segment.slot][segment.param_offset + k];
        }
      }
      for (const auto& counts : seen) {
        for (int count : counts) EXPECT_EQ(count, 1) << "dp " << dp_size << " bucket " << bucket_numel;
      }
    }
  }
}

TEST(FlatLayout, BadArgumentsAreErrors) {
  EXPECT_THROW(FlatLayout(kShapes, 0, 2), UsageError);
  EXPECT_THROW(FlatLayout(kShapes, 8, 0), UsageError);
  EXPECT_THROW(FlatLayout({}, 8, 2), UsageError);
  EXPECT_THROW(bucket_numel_for(0.0, 4), ConfigError);
  EXPECT_EQ(bucket_numel_for(25.0, 4), 25 * 1024 * 1024 / 4);
}

TEST(FlatParameters, ParametersAndGradientsAreViewsOfTheBuffers) {
  torch::manual_seed(0);
  NamedTensors params;
  for (const auto& [name, shape] : kShapes) params.emplace_back(name, torch::randn(shape).requires_grad_());
  std::vector<torch::Tensor> before;
  for (const auto& [name, p] : params) before.push_back(p.detach().clone());
  FlatParameters flat(params, 16, 2);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(params[i].second, before[i]));
    const ParamSlot& slot = flat.layout().slots()[i];
    if (slot.numel == 0) continue;
    const int64_t in_bucket = slot.offset - flat.layout().buckets()[slot.bucket].offset;
    EXPECT_TRUE(torch::equal(flat.bucket_params(slot.bucket).narrow(0, in_bucket, slot.numel), before[i].flatten()));
  }
  // Backward accumulates straight into the flat gradient buffer, twice.
  for (int pass = 0; pass < 2; ++pass) {
    torch::Tensor loss = torch::zeros({});
    for (const auto& [name, p] : params) loss = loss + (p * p).sum();
    loss.backward();
  }
  flat.check_grads_bound();
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamSlot& slot = flat.layout().slots()[i];
    EXPECT_TRUE(torch::allclose(flat.flat_grads().narrow(0, slot.offset, slot.numel), 4 * before[i].flatten()));
  }
  // Padding never receives anything; zero_grad keeps the views bound.
  EXPECT_EQ(
      flat.flat_grads().abs().sum().item<double>(),
      (4 * torch::cat({before[0].flatten(), before[1], before[2].flatten(), before[4]})).abs().sum().item<double>());
  flat.zero_grad();
  flat.check_grads_bound();
  EXPECT_EQ(params[0].second.grad().abs().sum().item<double>(), 0.0);
  params[1].second.mutable_grad() = torch::Tensor();
  EXPECT_THROW(flat.check_grads_bound(), UsageError);
}

TEST(FlatParameters, ATensorListedTwiceIsAnError) {
  const torch::Tensor tied = torch::ones({4}).requires_grad_();
  EXPECT_THROW(FlatParameters({{"embed", tied}, {"head", tied}}, 16, 1), UsageError);
}

}  // namespace
}  // namespace nf::parallel::dp
