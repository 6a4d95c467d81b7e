// Data parallelism and ZeRO-1/2 against one process (GradSync and ShardedAdamW, and the
// DataParallelOptimizer the trainer uses over them): a tiny CausalLM trained for a few steps on a
// fixed global batch that the dp ranks split by rows (with uneven token counts per rank, through
// the loss mask). Every rank also runs the single-process reference (plain AdamW over the whole
// batch) locally, so parameters and gradient norms are compared after every step. The optimizer
// state is then carried through the per-rank and the consolidated formats, the latter into a
// different dp size, and training must continue as if uninterrupted.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

#include "../support/tiny_model.h"
#include "nf/core/error.h"
#include "nf/dist/mesh.h"
#include "nf/dist/mpi_communicator.h"
#include "nf/model/loss.h"
#include "nf/model/transformer.h"
#include "nf/optim/adamw.h"
#include "nf/optim/grad_clip.h"
#include "nf/optim/lr_schedule.h"
#include "nf/parallel/dp/dp_optimizer.h"
#include "nf/parallel/dp/grad_sync.h"
#include "nf/parallel/dp/sharded_adamw.h"

namespace nf::parallel::dp {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kBatch = 6, kSeq = 12;  // 6 rows: divisible by dp = 1, 2 and 3
constexpr double kMaxNorm = 1.0;
constexpr int64_t kBucketNumel = 3000;  // several buckets for this model, and params that straddle chunks

model::ModelConfig tiny_config() {
  model::ModelConfig config = testing::tiny_model_config();
  config.max_seq_len = kSeq;
  return config;
}

model::CausalLM make_model() {
  model::CausalLM lm(tiny_config());
  model::initialize(*lm, model::InitOptions().with_seed(7).with_n_layers(2));
  return lm;
}

const optim::LrScheduleOptions kSchedule =
    optim::LrScheduleOptions().with_peak_lr(2e-3).with_warmup_steps(2).with_total_steps(8);
// eps 1e-6 rather than 1e-8: near g = 0 Adam's update lr·g/(|g| + eps) turns a gradient difference
// δ into lr·δ/eps, and the dp sum of gradients differs from one process's sum by rounding (δ ~ 1e-10
// where the sum cancels). With eps 1e-8 that is 1e-4 for a few elements in every run, ZeRO or not
// (zero 0 runs the very same AdamW); 1e-6 keeps the comparison about the sharding, not the noise.
optim::AdamWOptions adamw_options() { return optim::AdamWOptions().with_weight_decay(0.1).with_eps(1e-6); }

struct Batch {
  torch::Tensor tokens, targets, mask;
  Batch rows(int64_t begin, int64_t count) const {
    return {tokens.narrow(0, begin, count), targets.narrow(0, begin, count), mask.narrow(0, begin, count)};
  }
};

// The global batch of `step`; the mask drops a different number of tokens in every row.
Batch global_batch(int64_t step) {
  torch::manual_seed(1000 + step);
  const torch::Tensor sequence = torch::randint(0, tiny_config().vocab_size, {kBatch, kSeq + 1}, torch::kLong);
  torch::Tensor mask = torch::ones({kBatch, kSeq}, torch::kBool);
  for (int64_t row = 0; row < kBatch; ++row) mask[row].narrow(0, 0, (row * 5 + step) % kSeq).fill_(false);
  return {sequence.narrow(1, 0, kSeq).contiguous(), sequence.narrow(1, 1, kSeq).contiguous(), mask};
}

// The single-process control: the whole batch, mean loss, global-norm clipping, plain AdamW.
class Reference {
 public:
  Reference() : lm_(make_model()), params_(model::named_parameters(*lm_)), adamw_(params_, adamw_options()) {}
  double step(int64_t step) {
    adamw_.zero_grad();
    const Batch batch = global_batch(step);
    const model::LossSum loss = model::cross_entropy_sum(lm_->forward(batch.tokens), batch.targets, batch.mask);
    (loss.sum / loss.count).backward();
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, p] : params_) tensors.push_back(p);
    const double norm = optim::clip_grad_norm(tensors, kMaxNorm);
    adamw_.step(optim::learning_rate_at(kSchedule, step));
    return norm;
  }
  const optim::NamedTensors& parameters() const { return params_; }
  const optim::AdamW& optimizer() const { return adamw_; }

 private:
  model::CausalLM lm_;
  optim::NamedTensors params_;
  optim::AdamW adamw_;
};

// One dp replica: flat buffers, gradient sync and the optimizer of its ZeRO stage.
class Replica {
 public:
  Replica(dist::Communicator& dp, int zero_stage, bool overlap, model::CausalLM lm)
      : dp_(dp),
        lm_(std::move(lm)),
        flat_(model::named_parameters(*lm_), kBucketNumel, dp.size()),
        sync_(flat_, dp, zero_stage, overlap) {
    if (zero_stage == 0) {
      adamw_.emplace(flat_.parameters(), adamw_options());
    } else {
      sharded_.emplace(flat_, dp, adamw_options());
    }
  }

  // The loss contract: backward each micro-batch's sum / the global token count (all micro-batches
  // of all ranks); gradients accumulate locally and are summed over dp. Two micro-batches per
  // rank, the overlap armed for the last one only.
  double step(int64_t step) {
    flat_.zero_grad();
    const int64_t rows = kBatch / dp_.size();
    const Batch batch = global_batch(step).rows(dp_.rank() * rows, rows);
    torch::Tensor global_count = batch.mask.sum().reshape({1});
    dp_.all_reduce(global_count, dist::ReduceOp::kSum)->wait();
    const int64_t first_rows = (rows + 1) / 2;
    for (const auto& [begin, count] : {std::pair<int64_t, int64_t>{0, first_rows}, {first_rows, rows - first_rows}}) {
      const Batch micro = batch.rows(begin, count);
      const model::LossSum loss = model::cross_entropy_sum(lm_->forward(micro.tokens), micro.targets, micro.mask);
      if (begin + count == rows) sync_.arm();
      (loss.sum / global_count.squeeze()).backward();
    }
    sync_.finish();
    flat_.check_grads_bound();
    const double lr = optim::learning_rate_at(kSchedule, step);
    if (adamw_) {
      std::vector<torch::Tensor> tensors;
      for (const auto& [name, p] : flat_.parameters()) tensors.push_back(p);
      const double norm = optim::clip_grad_norm(tensors, kMaxNorm);
      adamw_->step(lr);
      return norm;
    }
    const torch::Tensor shard_grads = sync_.shard_grads();
    // Each element of the summed gradients is in exactly one dp rank's shard.
    torch::Tensor squares = sharded_->grad_squares(shard_grads, [](const std::string&) { return 1.0; });
    dp_.all_reduce(squares, dist::ReduceOp::kSum)->wait();
    const double norm = std::sqrt(squares.item<double>());
    const torch::Tensor norm_fp32 = torch::scalar_tensor(norm, torch::kFloat);
    sharded_->step(shard_grads, lr, optim::clip_coefficient(norm_fp32, kMaxNorm).item<double>());
    return norm;
  }

  FlatParameters& flat() { return flat_; }
  GradSync& sync() { return sync_; }
  ShardedAdamW& sharded() { return *sharded_; }

 private:
  dist::Communicator& dp_;
  model::CausalLM lm_;
  FlatParameters flat_;
  GradSync sync_;
  std::optional<optim::AdamW> adamw_;
  std::optional<ShardedAdamW> sharded_;
};

// Each parameter tensor within 1e-5 relative in norm: ‖ours − reference‖ ≤ 1e-5 ‖reference‖.
// (Element-wise bounds are the wrong measure: the summation order of gradients over ranks differs
// from one process's in the last bits, and Adam's m / sqrt(v) turns that into a visible change of
// the few elements whose gradient is near zero.)
void expect_parameters_match(const NamedTensors& ours, const Reference& reference, int64_t step) {
  const auto& theirs = reference.parameters();
  ASSERT_EQ(ours.size(), theirs.size());
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(ours[i].first, theirs[i].first);
    const double error =
        (ours[i].second.to(torch::kDouble) - theirs[i].second.to(torch::kDouble)).norm().item<double>();
    const double relative = error / theirs[i].second.to(torch::kDouble).norm().item<double>();
    worst = std::max(worst, relative);
    EXPECT_LE(relative, 1e-5) << "step " << step << " " << ours[i].first << ": max element difference "
                              << (ours[i].second - theirs[i].second).abs().max().item<double>();
  }
  // NF_DP_TEST_VERBOSE=1 prints the margin (docs/parallelism.md quotes it).
  if (getenv("NF_DP_TEST_VERBOSE")) std::printf("step %ld worst relative error %.3g\n", static_cast<long>(step), worst);
}

class DpMatchesOneProcess : public ::testing::TestWithParam<std::tuple<int, bool>> {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_P(DpMatchesOneProcess, ParametersAndGradNormEveryStep) {
  const auto [zero_stage, overlap] = GetParam();
  dist::MpiCommunicator dp(MPI_COMM_WORLD, "dp", 60s);
  Reference reference;
  Replica replica(dp, zero_stage, overlap, make_model());
  expect_parameters_match(replica.flat().parameters(), reference, -1);
  for (int64_t step = 0; step < 5; ++step) {
    const double expected_norm = reference.step(step);
    const double norm = replica.step(step);
    EXPECT_NEAR(norm, expected_norm, 1e-5 * expected_norm) << "step " << step;
    if (step == 0) {
      EXPECT_GT(norm, kMaxNorm) << "clipping must be exercised";
    }
    expect_parameters_match(replica.flat().parameters(), reference, step);
    if (overlap) {
      EXPECT_GT(replica.sync().buckets_started_in_backward(), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroStages, DpMatchesOneProcess,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Bool()), [](const auto& info) {
                           return "zero" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_overlap" : "");
                         });

// The trainer's side of a step behind one object (dp_optimizer.h): the same protocol through
// DataParallelOptimizer on a dp-only mesh, at every ZeRO stage: its gradient norm and parameters
// follow the one-process control, and its state() restores into a fresh optimizer that continues
// bit for bit.
class DpOptimizerMatchesOneProcess : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_P(DpOptimizerMatchesOneProcess, NormParametersAndState) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const dist::Mesh mesh(dist::MeshShape::resolve(dist::ParallelConfig(), world), MPI_COMM_WORLD, 60s, torch::kCPU);
  DataParallelOptions options;
  options.zero = GetParam();
  options.bucket_mb = kBucketNumel * 4.0 / (1 << 20);
  options.adamw = adamw_options();
  const auto no_replicated = [](const std::string&) { return false; };
  Reference reference;
  const ParameterUnits units{model::unit_of, {}};
  model::CausalLM lm = make_model();
  DataParallelOptimizer optimizer(model::named_parameters(*lm), options, mesh, no_replicated, units);
  // ZeRO 3: the model gathers each unit through the hooks; parameters() hold values only when
  // gathered (the others: no-ops).
  lm->set_unit_hooks(optimizer.unit_hooks());
  optimizer.release_parameters();
  const auto parameters_of = [](DataParallelOptimizer& dp_optimizer) {
    dp_optimizer.gather_parameters();
    NamedTensors copies;
    for (const auto& [name, tensor] : dp_optimizer.parameters()) copies.emplace_back(name, tensor.detach().clone());
    dp_optimizer.release_parameters();
    return copies;
  };
  const auto train_step = [&](model::CausalLM& model, DataParallelOptimizer& dp_optimizer, int64_t step) {
    const int64_t rows = kBatch / world;
    const Batch batch = global_batch(step).rows(mesh.dp().rank() * rows, rows);
    torch::Tensor global_count = batch.mask.sum().reshape({1});
    mesh.dp().all_reduce(global_count, dist::ReduceOp::kSum)->wait();
    dp_optimizer.arm();
    const model::LossSum loss = model::cross_entropy_sum(model->forward(batch.tokens), batch.targets, batch.mask);
    (loss.sum / global_count.squeeze()).backward();
    const double norm = dp_optimizer.reduce_gradients();
    dp_optimizer.step(optim::learning_rate_at(kSchedule, step), kMaxNorm);
    return norm;
  };
  for (int64_t step = 0; step < 3; ++step) {
    const double expected_norm = reference.step(step);
    EXPECT_NEAR(train_step(lm, optimizer, step), expected_norm, 1e-5 * expected_norm) << "step " << step;
    expect_parameters_match(parameters_of(optimizer), reference, step);
  }
  // A fresh model and optimizer restored from parameters() and state() continue like the original.
  model::CausalLM copy = make_model();
  DataParallelOptimizer restored(model::named_parameters(*copy), options, mesh, no_replicated, units);
  {
    const NamedTensors saved = parameters_of(optimizer);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < restored.parameters().size(); ++i) restored.parameters()[i].second.copy_(saved[i].second);
  }
  restored.load_state(optimizer.state(), /*per_parameter=*/options.zero == 0);
  copy->set_unit_hooks(restored.unit_hooks());
  restored.release_parameters();
  train_step(lm, optimizer, 3);
  train_step(copy, restored, 3);
  const NamedTensors original = parameters_of(optimizer), continued = parameters_of(restored);
  for (size_t i = 0; i < continued.size(); ++i) {
    EXPECT_TRUE(torch::equal(continued[i].second, original[i].second)) << continued[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroStages, DpOptimizerMatchesOneProcess, ::testing::Values(0, 1, 2, 3),
                         [](const auto& info) { return "zero" + std::to_string(info.param); });

// ZeRO 3 holds a unit's parameters only while it runs: none between steps, each freed right after
// its forward and again after its backward, and the next unit is gathered while one runs.
class UnitWatcher : public UnitHooks {
 public:
  UnitWatcher(UnitHooks& inner, const NamedTensors& parameters) : inner_(inner), parameters_(parameters) {}
  void before_forward(const std::string& unit) override {
    inner_.before_forward(unit);
    max_gathered_ = std::max(max_gathered_, gathered_units());
    EXPECT_TRUE(held(unit)) << unit << " is not gathered for its forward";
  }
  void after_forward(const std::string& unit, const at::Tensor& output) override {
    inner_.after_forward(unit, output);
    EXPECT_FALSE(held(unit)) << unit << " is still gathered after its forward";
  }
  bool held(const std::string& unit) const {
    for (const auto& [name, tensor] : parameters_) {
      if (model::unit_of(name) == unit) return tensor.storage().nbytes() > 0;
    }
    return false;
  }
  int gathered_units() const {
    std::set<std::string> units;
    for (const auto& [name, tensor] : parameters_) {
      if (tensor.storage().nbytes() > 0) units.insert(model::unit_of(name));
    }
    return static_cast<int>(units.size());
  }
  int max_gathered_ = 0;

 private:
  UnitHooks& inner_;
  const NamedTensors& parameters_;
};

TEST(Zero3, UnitsAreGatheredOnlyWhileTheyRun) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const dist::Mesh mesh(dist::MeshShape::resolve(dist::ParallelConfig(), world), MPI_COMM_WORLD, 60s, torch::kCPU);
  DataParallelOptions options;
  options.zero = 3;
  options.adamw = adamw_options();
  model::CausalLM lm = make_model();
  DataParallelOptimizer optimizer(model::named_parameters(*lm), options, mesh, [](const std::string&) { return false; },
                                  {model::unit_of, {}});
  UnitWatcher watcher(*optimizer.unit_hooks(), optimizer.parameters());
  lm->set_unit_hooks(&watcher);
  EXPECT_EQ(watcher.gathered_units(), 4);  // embed, two layers, head: whole until released
  optimizer.release_parameters();
  EXPECT_EQ(watcher.gathered_units(), 0);
  const Batch batch = global_batch(0).rows(mesh.dp().rank() * (kBatch / world), kBatch / world);
  optimizer.arm();
  const model::LossSum loss = model::cross_entropy_sum(lm->forward(batch.tokens), batch.targets, batch.mask);
  // One running and the next one prefetched, never more; none left after the forward.
  EXPECT_EQ(watcher.max_gathered_, 2);
  EXPECT_EQ(watcher.gathered_units(), 0);
  loss.sum.backward();  // regathers each unit for its backward, frees it once its gradients are in
  EXPECT_EQ(watcher.gathered_units(), 0);
  optimizer.reduce_gradients();
  optimizer.step(1e-3, 1.0);
  EXPECT_EQ(watcher.gathered_units(), 0);
}

TEST(ZeroState, ShardStateAndFullStateAtAnotherDpSizeContinueIdentically) {
  torch::set_num_threads(1);
  dist::MpiCommunicator world(MPI_COMM_WORLD, "dp", 60s);
  Reference reference;
  Replica first(world, 2, false, make_model());
  for (int64_t step = 0; step < 3; ++step) reference.step(step), first.step(step);

  // The consolidated state has plain AdamW's format and values.
  const optim::NamedTensors full = first.sharded().full_state();
  const optim::NamedTensors expected = reference.optimizer().state();
  ASSERT_EQ(full.size(), expected.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(full[i].first, expected[i].first);
    // atol 1e-8: ~1e-6 of the largest moments (~1e-2), where fp32 sums in another order land (MKL's
    // embedding gradients differ by up to 3.5e-9 between the sharded and the plain run).
    EXPECT_TRUE(torch::allclose(full[i].second.to(torch::kDouble), expected[i].second.to(torch::kDouble), 1e-4, 1e-8))
        << full[i].first;
  }

  // Per-rank state, same layout: a fresh optimizer continues bit for bit like the original.
  const optim::NamedTensors shard = first.sharded().state();
  ShardedAdamW restored(first.flat(), world, adamw_options());
  restored.load_state(shard);
  EXPECT_EQ(restored.step_count(), 3);
  EXPECT_TRUE(torch::equal(restored.state()[2].second, shard[2].second));

  // The full state into dp' = dp - 1 (dp 1 when dp is 2): the last rank(s) sit out.
  const int next_dp = world.size() > 2 ? world.size() - 1 : 1;
  MPI_Comm sub_comm = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world.rank() < next_dp ? 0 : MPI_UNDEFINED, world.rank(), &sub_comm);
  if (sub_comm != MPI_COMM_NULL) {
    dist::MpiCommunicator dp(sub_comm, "dp", 60s);
    MPI_Comm_free(&sub_comm);
    model::CausalLM lm = make_model();
    {
      torch::NoGradGuard no_grad;
      const auto targets = model::named_parameters(*lm);
      for (size_t i = 0; i < targets.size(); ++i) targets[i].second.copy_(first.flat().parameters()[i].second);
    }
    Replica second(dp, 2, true, std::move(lm));
    EXPECT_THROW(second.sharded().load_state(shard), CheckpointError);
    second.sharded().load_full_state(full);
    for (int64_t step = 3; step < 5; ++step) {
      const double expected_norm = reference.step(step);
      EXPECT_NEAR(second.step(step), expected_norm, 1e-5 * expected_norm);
      expect_parameters_match(second.flat().parameters(), reference, step);
    }
  }
  world.barrier();
}

}  // namespace
}  // namespace nf::parallel::dp
