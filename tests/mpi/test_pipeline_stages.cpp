// The pipeline below the e2e tier: a tied-embedding decoder split over pp = 2 or 4 ranks (one
// stage each), run by the executor under 1F1B and GPipe through the trainer's next-token step
// (src/train/step.h) with TiedEmbedding's hooks, against the whole model in one process (every
// rank computes it): the same loss, every stage's gradients equal to the whole model's (the first
// stage's embedding gradient holding the output projection's share, sent by the last stage), and
// after an update of the embedding, sync_weight() gives the last stage the new weight.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <map>

#include "../support/tiny_model.h"
#include "nf/dist/mesh.h"
#include "nf/model/transformer.h"
#include "nf/parallel/pp/schedule.h"
#include "step.h"
#include "tied_embedding.h"

namespace nf::train {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kRows = 6, kSeq = 8, kMicroBatch = 2;  // 3 micro-batches

model::ModelConfig tied_config() {
  model::ModelConfig config = testing::tiny_model_config();
  config.n_layers = 4;  // a layer or two per stage at pp 4 and 2
  config.tie_embeddings = true;
  return config;
}

model::CausalLM initialized(const model::StagePart& part = {}) {
  model::CausalLM lm(tied_config(), model::TensorParallel(), part);
  model::initialize(*lm, model::InitOptions().with_seed(11).with_n_layers(tied_config().n_layers));
  for (auto& parameter : lm->parameters()) parameter.mutable_grad() = torch::zeros_like(parameter);
  return lm;
}

DeviceBatch batch() {
  torch::manual_seed(3);
  const auto tokens = torch::randint(tied_config().vocab_size, {kRows, kSeq + 1}, torch::kLong);
  at::Tensor mask = torch::rand({kRows, kSeq}) > 0.2;  // uneven counts per micro-batch
  return {tokens.narrow(1, 0, kSeq).contiguous(), tokens.narrow(1, 1, kSeq).contiguous(), mask, {}, {}, {}};
}

class PipelineStages : public ::testing::TestWithParam<parallel::pp::ScheduleKind> {};

TEST_P(PipelineStages, MatchTheWholeModelAndKeepTheTiedEmbeddingInSync) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  dist::ParallelConfig parallel;
  parallel.pp = world;
  const dist::Mesh mesh(dist::MeshShape::resolve(parallel, world), MPI_COMM_WORLD, 60s, torch::kCPU);
  const auto layers = parallel::pp::partition_layers(tied_config().n_layers, world, {});
  const int64_t stage = mesh.coords().pp;
  model::StagePart part;
  part.first_layer = layers[stage].first;
  part.n_layers = layers[stage].count;
  part.embedding = stage == 0;
  part.head = stage == world - 1;

  // The whole model, in this process: the mean loss over the counted tokens, and its gradients.
  model::CausalLM whole = initialized();
  const DeviceBatch data = batch();
  const model::LossSum reference = whole->loss(whole->forward(data.inputs), data.targets, data.loss_mask);
  reference.mean().backward();
  std::map<std::string, at::Tensor> whole_grads;
  for (const auto& [name, parameter] : model::named_parameters(*whole)) whole_grads[name] = parameter.grad();

  model::CausalLM staged = initialized(part);
  TiedEmbedding tied(staged, mesh);
  tied.sync_weight();
  BackwardHooks hooks;
  hooks.before_last_backward = [&] { tied.add_output_grad(); };
  hooks.after_backward = [&] { tied.send_output_grad(); };
  const LossTotals totals = forward_backward(staged, data, kMicroBatch, mesh, GetParam(), false, hooks);
  EXPECT_NEAR(totals.mean(), reference.mean().item<double>(), 1e-6);
  EXPECT_EQ(totals.count, reference.count.item<double>());
  for (const auto& [name, parameter] : model::named_parameters(*staged)) {
    EXPECT_TRUE(torch::allclose(parameter.grad(), whole_grads.at(name), 1e-4, 1e-6))
        << "stage " << stage << ": " << name << " differs by " << (parameter.grad() - whole_grads.at(name)).abs().max();
  }
  if (stage == world - 1) {  // the copy's gradient went to the first stage
    EXPECT_EQ(staged->tied_output_weight().grad().abs().max().item<float>(), 0.0f);
  }

  // An update of the embedding on the first stage reaches the last stage's copy.
  const at::Tensor updated = whole->model->embed_tokens->weight.detach() + 0.5;
  if (stage == 0) {
    torch::NoGradGuard no_grad;
    staged->model->embed_tokens->weight.add_(0.5);
  }
  tied.sync_weight();
  if (stage == world - 1) {
    EXPECT_TRUE(torch::equal(staged->tied_output_weight(), updated));
  }
}

INSTANTIATE_TEST_SUITE_P(Schedules, PipelineStages,
                         ::testing::Values(parallel::pp::ScheduleKind::k1F1B, parallel::pp::ScheduleKind::kGPipe));

}  // namespace
}  // namespace nf::train
