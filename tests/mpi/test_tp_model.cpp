// The tensor-parallel decoder (tp = world size: 2 or 4 ranks), with and without sequence
// parallelism, against the same model unsharded on every rank: identical initial parameters, loss
// within 1e-5 relative, and every parameter's gathered gradient equal to the unsharded gradient
// (the norms' on every rank, which under sequence parallelism needs their all-reduce over tp).
// Also: a one-rank communicator is today's model exactly, and head counts that tp does not divide
// are a ConfigError naming both keys.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <string>
#include <tuple>

#include "nf/core/error.h"
#include "nf/dist/mpi_communicator.h"
#include "nf/model/transformer.h"
#include "tp_expect.h"

namespace nf::model {
namespace {

using namespace std::chrono_literals;
using test::close_to;

// 2 layers, d_model 64, 4 heads, vocab 101 (no tp divides it: padding). Two kv heads at tp=2; at
// tp=4, where GQA's 2 kv heads cannot be split, four.
ModelConfig tiny(int tp, bool tied) {
  ModelConfig c;
  c.vocab_size = 101;
  c.d_model = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = tp <= 2 ? 2 : 4;
  c.max_seq_len = 16;
  c.tie_embeddings = tied;
  return c;
}

InitOptions init_options(const ModelConfig& c) {
  return InitOptions().with_seed(3).with_std(0.1).with_n_layers(c.n_layers);
}

struct Result {
  LossSum loss;
  torch::Tensor logits;
};

// Sequences of 12 tokens: divisible by tp 2 and 4, as sequence parallelism needs.
constexpr int64_t kSeq = 12;

// One forward/backward on a fixed batch with a partial loss mask; gradients are left in the model.
Result step(CausalLM& model) {
  torch::manual_seed(29);
  const torch::Tensor tokens = torch::randint(model->config().vocab_size, {2, kSeq + 1}, torch::kLong);
  tokens[0][3] = model->config().vocab_size - 1;
  torch::Tensor mask = torch::ones({2, kSeq}, torch::kBool);
  mask[1].narrow(0, 0, 4).fill_(false);
  const torch::Tensor logits = model->forward(tokens.narrow(1, 0, kSeq));
  const LossSum loss = model->loss(logits, tokens.narrow(1, 1, kSeq), mask);
  loss.mean().backward();
  return {loss, logits};
}

// Parameters: tied embeddings, sequence parallelism.
class TpModel : public ::testing::TestWithParam<std::tuple<bool, bool>> {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
  bool tied() const { return std::get<0>(GetParam()); }
  bool sequence_parallel() const { return std::get<1>(GetParam()); }
  dist::MpiCommunicator tp{MPI_COMM_WORLD, "tp", 60s};
};

TEST_P(TpModel, MatchesTheUnshardedModel) {
  const ModelConfig config = tiny(tp.size(), tied());
  CausalLM reference(config);
  const int64_t count = initialize(*reference, init_options(config));
  const Result expected = step(reference);

  CausalLM sharded(config, TensorParallel(&tp, sequence_parallel()));
  EXPECT_EQ(initialize(*sharded, init_options(config)), count);  // the full model's size either way
  // Under sequence parallelism the hidden state between blocks is this rank's positions only.
  const int64_t local_seq = sequence_parallel() ? kSeq / tp.size() : kSeq;
  EXPECT_EQ(sharded->hidden_shape(2, kSeq), (std::vector<int64_t>{2, local_seq, config.d_model}));
  {
    torch::NoGradGuard no_grad;
    EXPECT_EQ(sharded->embed(torch::zeros({2, kSeq}, torch::kLong)).sizes().vec(), sharded->hidden_shape(2, kSeq));
  }
  const Result actual = step(sharded);
  EXPECT_TRUE(close_to(actual.loss.sum, expected.loss.sum));
  EXPECT_EQ(actual.loss.count.item<int64_t>(), expected.loss.count.item<int64_t>());
  const auto logit_spec = parallel::tp::split_spec(2, config.vocab_size, &tp, /*pad=*/true);
  EXPECT_EQ(actual.logits.size(2), logit_spec.shard_size());
  EXPECT_TRUE(close_to(parallel::tp::gather_full(actual.logits, logit_spec, tp), expected.logits));

  const auto ref_params = named_parameters(*reference), tp_params = named_parameters(*sharded);
  ASSERT_EQ(ref_params.size(), tp_params.size());
  for (size_t i = 0; i < ref_params.size(); ++i) {
    const auto& [name, parameter] = tp_params[i];
    ASSERT_EQ(name, ref_params[i].first);
    const parallel::tp::ShardSpec spec = sharded->shard_spec_of(name);
    EXPECT_EQ(sharded->full_shape_of(name), ref_params[i].second.sizes().vec()) << name;
    // Layout-independent init: the shards reassemble the unsharded initial values bit for bit.
    EXPECT_TRUE(torch::equal(parallel::tp::gather_full(parameter, spec, tp), ref_params[i].second.detach())) << name;
    ASSERT_TRUE(parameter.grad().defined()) << name;
    EXPECT_TRUE(close_to(parallel::tp::gather_full(parameter.grad(), spec, tp), ref_params[i].second.grad())) << name;
  }
}

TEST_P(TpModel, OneRankCommunicatorIsTheUnshardedModel) {
  const ModelConfig config = tiny(1, tied());
  dist::MpiCommunicator self(MPI_COMM_SELF, "tp", 30s);
  CausalLM plain(config), single(config, TensorParallel(&self, sequence_parallel()));
  initialize(*plain, init_options(config));
  initialize(*single, init_options(config));
  const Result a = step(plain), b = step(single);
  EXPECT_TRUE(torch::equal(a.loss.sum, b.loss.sum));
  const auto pa = named_parameters(*plain), pb = named_parameters(*single);
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(torch::equal(pa[i].second.grad(), pb[i].second.grad())) << pa[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, TpModel, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Tied" : "Untied") +
                                  (std::get<1>(info.param) ? "SequenceParallel" : "");
                         });

TEST(TpModelConfig, HeadsTpDoesNotDivideAreAConfigError) {
  dist::MpiCommunicator tp(MPI_COMM_WORLD, "tp", 30s);
  ModelConfig config = tiny(tp.size(), false);
  config.n_kv_heads = 1;
  try {
    CausalLM model(config, &tp);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("model.n_kv_heads"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("parallel.tp"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace nf::model
