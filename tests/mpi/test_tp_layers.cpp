// Tensor-parallel building blocks over the world communicator (2 or 3 ranks) against the same
// computation unsharded, done on every rank: column/row-parallel linear (outputs, input and weight
// gradients; each rank's weight gradient is its slice of the full one), the scatter/gather
// mappings and the two of sequence parallelism (with the row-parallel linear that reduce-scatters),
// and the vocab-parallel embedding and cross-entropy with a vocabulary (101) that no tp size
// divides, so the padding path runs.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "nf/core/error.h"
#include "nf/dist/mpi_communicator.h"
#include "nf/parallel/tp/linear.h"
#include "nf/parallel/tp/mappings.h"
#include "nf/parallel/tp/shard.h"
#include "nf/parallel/tp/vocab_parallel.h"
#include "tp_expect.h"

namespace nf::parallel::tp {
namespace {

using namespace std::chrono_literals;
using test::close_to;

class TpLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(17);  // the same "random" full tensors on every rank
    torch::set_num_threads(1);
  }
  dist::MpiCommunicator tp{MPI_COMM_WORLD, "tp", 30s};
};

// The full tensor's gradient block this rank must hold.
torch::Tensor block(const torch::Tensor& full, const ShardSpec& spec) { return take_shard(full, spec); }

TEST_F(TpLayers, ColumnParallelLinearMatchesTheFullLayer) {
  const torch::Tensor weight = torch::randn({12, 8}), input = torch::randn({2, 5, 8}), probe = torch::randn({2, 5, 12});
  const torch::Tensor x = input.clone().requires_grad_(), w = weight.clone().requires_grad_();
  const torch::Tensor y = torch::nn::functional::linear(x, w);
  (y * probe).sum().backward();

  ColumnParallelLinear column(8, 12, &tp);
  ASSERT_EQ(column->weight.sizes(), (std::vector<int64_t>{12 / tp.size(), 8}));
  column->weight.data().copy_(take_shard(weight, column->spec()));
  const torch::Tensor xl = input.clone().requires_grad_();
  const torch::Tensor yl = column(xl);
  const ShardSpec out_spec = split_spec(2, 12, &tp, false);
  EXPECT_TRUE(close_to(yl, block(y, out_spec)));
  (yl * block(probe, out_spec)).sum().backward();  // this rank's share of the same loss
  EXPECT_TRUE(close_to(xl.grad(), x.grad()));      // copy_to_tp summed every rank's share
  EXPECT_TRUE(close_to(column->weight.grad(), block(w.grad(), column->spec())));
  EXPECT_TRUE(close_to(gather_full(column->weight.grad(), column->spec(), tp), w.grad()));
}

TEST_F(TpLayers, ColumnThenGatherGivesTheFullOutputAndGradient) {
  const torch::Tensor weight = torch::randn({12, 8}), input = torch::randn({3, 8}), probe = torch::randn({3, 12});
  const torch::Tensor x = input.clone().requires_grad_();
  const torch::Tensor y = torch::nn::functional::linear(x, weight);
  (y * probe).sum().backward();

  ColumnParallelLinear column(8, 12, &tp);
  column->weight.data().copy_(take_shard(weight, column->spec()));
  const torch::Tensor xl = input.clone().requires_grad_();
  const torch::Tensor yl = gather_from_tp(column(xl), tp);
  EXPECT_TRUE(close_to(yl, y));
  (yl * probe).sum().backward();  // the full loss on every rank: gather's backward keeps one slice
  EXPECT_TRUE(close_to(xl.grad(), x.grad()));
}

TEST_F(TpLayers, RowParallelLinearMatchesTheFullLayer) {
  const torch::Tensor weight = torch::randn({8, 12}), input = torch::randn({2, 5, 12}), probe = torch::randn({2, 5, 8});
  const torch::Tensor x = input.clone().requires_grad_(), w = weight.clone().requires_grad_();
  const torch::Tensor y = torch::nn::functional::linear(x, w);
  (y * probe).sum().backward();

  RowParallelLinear row(12, 8, &tp);
  ASSERT_EQ(row->weight.sizes(), (std::vector<int64_t>{8, 12 / tp.size()}));
  row->weight.data().copy_(take_shard(weight, row->spec()));
  const torch::Tensor xl = input.clone().requires_grad_();
  const torch::Tensor yl = row(scatter_to_tp(xl, tp));
  EXPECT_TRUE(close_to(yl, y));  // reduce_from_tp summed the partial products
  (yl * probe).sum().backward();
  EXPECT_TRUE(close_to(xl.grad(), x.grad()));  // scatter's backward gathered every slice
  EXPECT_TRUE(close_to(row->weight.grad(), block(w.grad(), row->spec())));
  EXPECT_TRUE(close_to(gather_full(row->weight.grad(), row->spec(), tp), w.grad()));
}

TEST_F(TpLayers, SequenceMappingsAreConjugate) {
  // Batch 3 > 1: the sequence (dim 1) is not the communicator's dim 0, so the layout moves matter.
  const int64_t seq = 2 * tp.size();
  const ShardSpec positions = split_spec(1, seq, &tp, /*pad=*/false);
  const torch::Tensor full = torch::randn({3, seq, 4}), probes = torch::randn({tp.size(), 3, seq, 4});
  const torch::Tensor local = take_shard(full, positions).requires_grad_();
  const torch::Tensor gathered = gather_sequence(local, tp);
  EXPECT_TRUE(torch::equal(gathered, full));
  (gathered * probes[tp.rank()]).sum().backward();  // a different share of the loss on every rank
  EXPECT_TRUE(close_to(local.grad(), take_shard(probes.sum(0), positions)));  // summed, this rank's positions

  const torch::Tensor partials = torch::randn({tp.size(), 3, seq, 4}), probe = torch::randn({3, seq, 4});
  const torch::Tensor partial = partials[tp.rank()].clone().requires_grad_();
  const torch::Tensor scattered = reduce_scatter_sequence(partial, tp);
  EXPECT_TRUE(close_to(scattered, take_shard(partials.sum(0), positions)));
  (scattered * take_shard(probe, positions)).sum().backward();
  EXPECT_TRUE(close_to(partial.grad(), probe));  // every rank's positions, gathered

  if (tp.size() > 1) {
    EXPECT_THROW(reduce_scatter_sequence(torch::zeros({1, seq + 1, 4}), tp), DistError);
  }
}

TEST_F(TpLayers, SequenceParallelRowLinearKeepsThisRanksPositions) {
  const int64_t seq = 2 * tp.size();
  const torch::Tensor weight = torch::randn({8, 12}), input = torch::randn({2, seq, 12}),
                      probe = torch::randn({2, seq, 8});
  const torch::Tensor x = input.clone().requires_grad_(), w = weight.clone().requires_grad_();
  const torch::Tensor y = torch::nn::functional::linear(x, w);
  (y * probe).sum().backward();

  RowParallelLinear row(12, 8, &tp, /*sequence_parallel=*/true);
  row->weight.data().copy_(take_shard(weight, row->spec()));
  const ShardSpec positions = split_spec(1, seq, &tp, /*pad=*/false);
  const torch::Tensor xl = input.clone().requires_grad_();
  const torch::Tensor yl = row(scatter_to_tp(xl, tp));
  EXPECT_TRUE(close_to(yl, take_shard(y, positions)));
  (yl * take_shard(probe, positions)).sum().backward();
  EXPECT_TRUE(close_to(xl.grad(), x.grad()));
  EXPECT_TRUE(close_to(gather_full(row->weight.grad(), row->spec(), tp), w.grad()));
}

TEST_F(TpLayers, IndivisibleFeaturesAreAConfigError) {
  if (tp.size() == 1) GTEST_SKIP();
  EXPECT_THROW(ColumnParallelLinear(8, 12 * tp.size() + 1, &tp), ConfigError);
  EXPECT_THROW(RowParallelLinear(12 * tp.size() + 1, 8, &tp), ConfigError);
}

TEST_F(TpLayers, VocabParallelEmbeddingWithPaddedVocabulary) {
  const int64_t vocab = 101, d = 6;
  const torch::Tensor table = torch::randn({vocab, d}), probe = torch::randn({3, 7, d});
  torch::Tensor ids = torch::randint(vocab, {3, 7}, torch::kLong);
  ids[0][0] = 0, ids[0][1] = vocab - 1, ids[2][6] = vocab - 1;  // both ends of the vocabulary
  const torch::Tensor w = table.clone().requires_grad_();
  const torch::Tensor y = torch::nn::functional::embedding(ids, w);
  (y * probe).sum().backward();

  VocabParallelEmbedding embedding(vocab, d, &tp);
  const ShardSpec spec = embedding->spec();
  EXPECT_EQ(spec.padded_full_size, padded_size(vocab, tp.size()));
  ASSERT_EQ(embedding->weight.size(0), spec.padded_full_size / tp.size());
  embedding->weight.data().copy_(take_shard(table, spec));
  const torch::Tensor yl = embedding(ids);
  EXPECT_TRUE(close_to(yl, y));
  (yl * probe).sum().backward();
  EXPECT_TRUE(close_to(embedding->weight.grad(), block(w.grad(), spec)));
  EXPECT_TRUE(close_to(gather_full(embedding->weight.grad(), spec, tp), w.grad()));
  const int64_t padding = spec.shard_size() - spec.valid_size();
  if (padding > 0) {
    EXPECT_EQ(embedding->weight.grad().narrow(0, spec.valid_size(), padding).abs().max().item<float>(), 0.0f);
  }
}

TEST_F(TpLayers, VocabParallelCrossEntropyWithPaddedVocabulary) {
  const int64_t vocab = 101, tokens = 9;
  const torch::Tensor full = 3.0 * torch::randn({tokens, vocab}), weights = torch::rand({tokens});
  torch::Tensor targets = torch::randint(vocab, {tokens}, torch::kLong);
  targets[0] = 0, targets[1] = vocab - 1;
  const torch::Tensor logits = full.clone().requires_grad_();
  const torch::Tensor expected = torch::nn::functional::cross_entropy(
      logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  (expected * weights).sum().backward();

  // Padding columns hold zeros here: a zero logit would carry probability if it were not masked.
  const ShardSpec spec = split_spec(1, vocab, &tp, /*pad=*/true);
  const torch::Tensor local = take_shard(full, spec).requires_grad_();
  const torch::Tensor loss = vocab_parallel_cross_entropy(local, targets, vocab, tp);
  EXPECT_TRUE(close_to(loss, expected));
  (loss * weights).sum().backward();
  EXPECT_TRUE(close_to(local.grad(), block(logits.grad(), spec)));
  EXPECT_TRUE(close_to(gather_full(local.grad(), spec, tp), logits.grad()));
}

TEST_F(TpLayers, GatherFullUndoesTakeShardAlongEveryDim) {
  const torch::Tensor full = torch::randn({7, 5, 3});
  for (int64_t dim = 0; dim < 3; ++dim) {
    const ShardSpec spec = split_spec(dim, full.size(dim), &tp, /*pad=*/true);
    EXPECT_TRUE(torch::equal(gather_full(take_shard(full, spec), spec, tp), full)) << "dim " << dim;
  }
}

}  // namespace
}  // namespace nf::parallel::tp
