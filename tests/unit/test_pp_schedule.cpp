// Pipeline schedules, checked without communication: a simulator runs every stage's action list
// with blocking-receive semantics and must finish without deadlock; every micro-batch gets exactly
// one forward and one backward on every stage, in dependency order; 1F1B stays within its
// activation bound.
#include <gtest/gtest.h>

#include <map>

#include "nf/core/error.h"
#include "nf/parallel/pp/schedule.h"

namespace nf::parallel::pp {
namespace {

// Runs all stages' lists: an action runs when its dependencies are done (forward m on s needs
// forward m on s−1; backward m on s needs forward m on s and backward m on s+1). Each stage only
// ever tries its next action, as a blocking executor would. Returns false on deadlock.
bool simulate(const std::vector<std::vector<Action>>& lists, int64_t micro_batches) {
  const int64_t stages = static_cast<int64_t>(lists.size());
  std::vector<std::vector<bool>> forward_done(stages, std::vector<bool>(micro_batches));
  std::vector<std::vector<bool>> backward_done(stages, std::vector<bool>(micro_batches));
  std::vector<size_t> next(stages, 0);
  for (bool progressed = true; progressed;) {
    progressed = false;
    for (int64_t s = 0; s < stages; ++s) {
      if (next[s] == lists[s].size()) continue;
      const Action& a = lists[s][next[s]];
      const bool ready = a.type == ActionType::kForward ? (s == 0 || forward_done[s - 1][a.micro_batch])
                                                        : (forward_done[s][a.micro_batch] &&
                                                           (s == stages - 1 || backward_done[s + 1][a.micro_batch]));
      if (!ready) continue;
      (a.type == ActionType::kForward ? forward_done : backward_done)[s][a.micro_batch] = true;
      ++next[s];
      progressed = true;
    }
  }
  for (int64_t s = 0; s < stages; ++s) {
    if (next[s] != lists[s].size()) return false;
  }
  return true;
}

class Schedules : public ::testing::TestWithParam<std::tuple<ScheduleKind, int64_t, int64_t>> {};

TEST_P(Schedules, EveryMicroBatchOnceEachWayWithoutDeadlock) {
  const auto [kind, stages, micro_batches] = GetParam();
  std::vector<std::vector<Action>> lists;
  for (int64_t s = 0; s < stages; ++s) lists.push_back(make_schedule(kind, stages, s, micro_batches));
  for (const auto& list : lists) {
    std::map<int64_t, int> forwards, backwards;
    for (const Action& a : list) {
      if (a.type == ActionType::kForward) {
        ++forwards[a.micro_batch];
      } else {
        EXPECT_EQ(forwards[a.micro_batch], 1) << "backward before forward of micro-batch " << a.micro_batch;
        ++backwards[a.micro_batch];
      }
    }
    EXPECT_EQ(static_cast<int64_t>(forwards.size()), micro_batches);
    EXPECT_EQ(static_cast<int64_t>(backwards.size()), micro_batches);
    for (const auto& [m, count] : forwards) EXPECT_EQ(count, 1) << m;
    for (const auto& [m, count] : backwards) EXPECT_EQ(count, 1) << m;
  }
  EXPECT_TRUE(simulate(lists, micro_batches));
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t peak = peak_in_flight(lists[s]);
    if (kind == ScheduleKind::k1F1B) {
      EXPECT_LE(peak, std::min(stages - s, micro_batches)) << "stage " << s;
    } else {
      EXPECT_EQ(peak, micro_batches);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Schedules,
                         ::testing::Combine(::testing::Values(ScheduleKind::kGPipe, ScheduleKind::k1F1B),
                                            ::testing::Values(1, 2, 3, 4, 8), ::testing::Values(1, 2, 3, 4, 7, 16)));

TEST(Schedules, OneFOneBHasTheTextbookShape) {
  using A = Action;
  const auto F = ActionType::kForward;
  const auto B = ActionType::kBackward;
  EXPECT_EQ(
      one_f_one_b_schedule(4, 0, 6),
      (std::vector<A>{{F, 0}, {F, 1}, {F, 2}, {F, 3}, {B, 0}, {F, 4}, {B, 1}, {F, 5}, {B, 2}, {B, 3}, {B, 4}, {B, 5}}));
  EXPECT_EQ(one_f_one_b_schedule(4, 3, 3), (std::vector<A>{{F, 0}, {B, 0}, {F, 1}, {B, 1}, {F, 2}, {B, 2}}));
}

TEST(Schedules, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(gpipe_schedule(2, 2, 4), ConfigError);
  EXPECT_THROW(one_f_one_b_schedule(2, 0, 0), ConfigError);
}

TEST(LayerPartition, BalancedGivesTheRemainderToEarlyStages) {
  const auto parts = partition_layers(10, 4, {});
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].count, 3);
  EXPECT_EQ(parts[1].count, 3);
  EXPECT_EQ(parts[2].count, 2);
  EXPECT_EQ(parts[3].first, 8);
  EXPECT_EQ(parts[3].count, 2);
}

TEST(LayerPartition, OverrideIsCheckedAndUsed) {
  const auto parts = partition_layers(8, 2, {3, 5});
  EXPECT_EQ(parts[1].first, 3);
  EXPECT_EQ(parts[1].count, 5);
  EXPECT_THROW(partition_layers(8, 2, {4, 3}), ConfigError);
  EXPECT_THROW(partition_layers(8, 2, {8, 0}), ConfigError);
  EXPECT_THROW(partition_layers(2, 4, {}), ConfigError);
}

}  // namespace
}  // namespace nf::parallel::pp
