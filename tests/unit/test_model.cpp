// The decoder LM: Hugging Face parameter names and count, layout-independent seeded init, layer
// ranges that compose, causality, and the (sum, count) loss. Numerics against an independent
// Llama are checked by tests/python/llama_reference.py. Also logs tiny-preset tokens/s, and checks
// the NeuralFlow model puts latents and codes on the sphere (model.cosine_codebook).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <tuple>
#include <vector>

#include "nf/core/error.h"
#include "nf/model/loss.h"
#include "nf/model/paragraph_model.h"
#include "nf/model/transformer.h"
#include "nf/train/config.h"

namespace nf::model {
namespace {

ModelConfig small_config(int64_t n_kv_heads, bool tied) {
  ModelConfig c;
  c.vocab_size = 50;
  c.d_model = 32;
  c.n_layers = 3;
  c.n_heads = 4;
  c.n_kv_heads = n_kv_heads;
  c.max_seq_len = 16;
  c.tie_embeddings = tied;
  return c;
}

CausalLM build(const ModelConfig& config, int64_t seed = 5) {
  CausalLM model(config);
  initialize(*model, InitOptions().with_seed(seed).with_std(config.init_std).with_n_layers(config.n_layers));
  return model;
}

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(ModelTest, ParameterNamesAndCountFollowHuggingFace) {
  for (bool tied : {true, false}) {
    const ModelConfig config = small_config(2, tied);
    CausalLM model(config);
    const auto params = named_parameters(*model);
    std::vector<std::string> expected = {"model.embed_tokens.weight"};
    for (int i = 0; i < config.n_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      for (const char* n :
           {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
            "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm"}) {
        expected.push_back(p + n + ".weight");
      }
    }
    expected.push_back("model.norm.weight");
    if (!tied) expected.push_back("lm_head.weight");
    ASSERT_EQ(params.size(), expected.size());
    for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i].first, expected[i]);
    EXPECT_EQ(params[2].second.sizes(), (std::vector<int64_t>{2 * 8, 32}));  // k_proj: kv_heads · head_dim
    const int64_t count = initialize(*model, InitOptions());
    EXPECT_EQ(count, count_parameters(config));
    EXPECT_EQ(model->output_weight().data_ptr(),
              tied ? model->model->embed_tokens->weight.data_ptr() : params.back().second.data_ptr());
  }
}

TEST_F(ModelTest, InitIsAPureFunctionOfSeedNameAndShape) {
  const ModelConfig config = small_config(2, false);
  CausalLM a = build(config, 11);
  torch::set_num_threads(2);  // thread count must not matter
  CausalLM b = build(config, 11);
  torch::set_num_threads(1);
  CausalLM c = build(config, 12);
  const auto pa = named_parameters(*a), pb = named_parameters(*b), pc = named_parameters(*c);
  const InitOptions options = InitOptions().with_seed(11).with_n_layers(config.n_layers);
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::string& name = pa[i].first;
    EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << name;
    EXPECT_TRUE(torch::equal(pa[i].second, initial_value(options, name, pa[i].second.sizes()))) << name;
    if (name.find("norm") != std::string::npos) {
      EXPECT_TRUE(torch::equal(pa[i].second, torch::ones_like(pa[i].second))) << name;
    } else {
      EXPECT_FALSE(torch::equal(pa[i].second, pc[i].second)) << name << " ignores the seed";
    }
  }
  // Different names with the same shape get different values.
  EXPECT_FALSE(torch::equal(initial_value(options, "model.layers.0.mlp.up_proj.weight", {64, 32}),
                            initial_value(options, "model.layers.0.mlp.gate_proj.weight", {64, 32})));
}

TEST_F(ModelTest, InitStandardDeviationsScaleOutputProjections) {
  const InitOptions options = InitOptions().with_seed(1).with_std(0.02).with_n_layers(8);
  const double plain = initial_value(options, "model.layers.0.mlp.up_proj.weight", {512, 512}).std().item<double>();
  const double scaled = initial_value(options, "model.layers.0.mlp.down_proj.weight", {512, 512}).std().item<double>();
  EXPECT_NEAR(plain, 0.02, 0.0005);
  EXPECT_NEAR(scaled, 0.02 / std::sqrt(16.0), 0.0002);
  const double unscaled = initial_value(InitOptions(options).with_scaled_output_projections(false),
                                        "model.layers.0.self_attn.o_proj.weight", {512, 512})
                              .std()
                              .item<double>();
  EXPECT_NEAR(unscaled, 0.02, 0.0005);
  EXPECT_THROW(initial_value(options, "model.layers.0.mlp.up_proj.bias", {8}), ConfigError);
}

TEST_F(ModelTest, LayerRangesComposeToTheFullForward) {
  CausalLM model = build(small_config(1, true));
  const torch::Tensor tokens = torch::randint(50, {2, 10}, torch::kLong);
  const torch::Tensor full = model->forward(tokens);
  torch::Tensor hidden = model->embed(tokens);
  hidden = model->forward_layers(hidden, 0, 1);
  hidden = model->forward_layers(hidden, 1, 1);  // an empty stage passes activations through
  hidden = model->forward_layers(hidden, 1, 3);
  EXPECT_TRUE(torch::equal(model->head(hidden), full));
  EXPECT_EQ(full.sizes(), (std::vector<int64_t>{2, 10, 50}));
  EXPECT_THROW(model->forward_layers(hidden, 2, 4), UsageError);
  EXPECT_THROW(model->forward(torch::zeros({1, 17}, torch::kLong)), UsageError);  // > max_seq_len
}

TEST_F(ModelTest, AttentionIsCausal) {
  CausalLM model = build(small_config(2, false));
  torch::Tensor tokens = torch::randint(50, {1, 12}, torch::kLong);
  const torch::Tensor before = model->forward(tokens);
  tokens[0][7] = (tokens[0][7].item<int64_t>() + 1) % 50;
  const torch::Tensor after = model->forward(tokens);
  EXPECT_TRUE(torch::allclose(before.narrow(1, 0, 7), after.narrow(1, 0, 7), 0, 0));
  EXPECT_FALSE(torch::allclose(before.narrow(1, 7, 1), after.narrow(1, 7, 1)));
}

// Packed documents kept apart (training.document_mask): each document of a row gives the logits it
// gives alone in its own row (RoPE is relative, so its offset in the row does not matter), and
// an all-equal id is the plain causal forward.
TEST_F(ModelTest, DocumentMaskKeepsPackedDocumentsApart) {
  torch::manual_seed(3);
  CausalLM model = build(small_config(2, false));
  const torch::Tensor tokens = torch::randint(50, {2, 14}, torch::kLong);
  // Row 0: documents of 5, 6 and 3 tokens; row 1: 9 and 5.
  const torch::Tensor ids =
      torch::tensor({0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8}, torch::kLong)
          .view({2, 14});
  const torch::Tensor packed = model->forward(tokens, ids);
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> documents = {
      {0, 0, 5}, {0, 5, 6}, {0, 11, 3}, {1, 0, 9}, {1, 9, 5}};
  for (const auto& [row, begin, length] : documents) {
    const torch::Tensor alone = model->forward(tokens.narrow(0, row, 1).narrow(1, begin, length));
    const torch::Tensor in_row = packed.narrow(0, row, 1).narrow(1, begin, length);
    EXPECT_TRUE(torch::allclose(in_row, alone, 1e-4, 1e-5))
        << "row " << row << " tokens [" << begin << ", " << begin + length
        << "): " << (in_row - alone).abs().max().item<double>();
  }
  // Without the mask the second document reads the first: its logits differ.
  const torch::Tensor causal = model->forward(tokens);
  EXPECT_FALSE(torch::allclose(causal.narrow(1, 5, 6), packed.narrow(1, 5, 6), 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(causal.narrow(1, 0, 5), packed.narrow(1, 0, 5), 1e-5, 1e-6));
  // One document per row: the mask is the causal one.
  EXPECT_TRUE(torch::allclose(model->forward(tokens, torch::zeros({2, 14}, torch::kLong)), causal, 1e-5, 1e-6));
  EXPECT_THROW(model->forward(tokens, torch::zeros({2, 13}, torch::kLong)), UsageError);
}

TEST_F(ModelTest, InvalidConfigIsAConfigError) {
  ModelConfig config = small_config(3, false);  // 4 heads, 3 kv heads
  EXPECT_THROW(CausalLM{config}, ConfigError);
}

TEST_F(ModelTest, LossSumsAndCountsCombineExactly) {
  const torch::Tensor logits = torch::randn({2, 6, 11}, torch::kDouble).to(torch::kFloat);
  torch::Tensor targets = torch::randint(11, {2, 6}, torch::kLong);
  const torch::Tensor mask = torch::tensor({1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0}, torch::kLong).view({2, 6});
  targets.masked_fill_(mask == 0, -100);  // ignored positions may hold any target
  const LossSum whole = cross_entropy_sum(logits, targets, mask);
  EXPECT_EQ(whole.count.item<int64_t>(), 8);
  const torch::Tensor selected = torch::nn::functional::cross_entropy(
      logits.view({-1, 11}).index({mask.view({-1}) == 1}), targets.view({-1}).index({mask.view({-1}) == 1}));
  EXPECT_NEAR(whole.mean().item<double>(), selected.item<double>(), 1e-6);
  // Two micro-batches (or two data-parallel ranks) combine to the same mean.
  const LossSum first = cross_entropy_sum(logits.narrow(0, 0, 1), targets.narrow(0, 0, 1), mask.narrow(0, 0, 1));
  const LossSum second = cross_entropy_sum(logits.narrow(0, 1, 1), targets.narrow(0, 1, 1), mask.narrow(0, 1, 1));
  EXPECT_EQ((first.count + second.count).item<int64_t>(), 8);
  EXPECT_NEAR(((first.sum + second.sum) / 8).item<double>(), whole.mean().item<double>(), 1e-6);
  const LossSum unmasked = cross_entropy_sum(logits, torch::randint(11, {2, 6}, torch::kLong));
  EXPECT_EQ(unmasked.count.item<int64_t>(), 12);
  const LossSum empty = cross_entropy_sum(logits, targets, torch::zeros({2, 6}, torch::kBool));
  EXPECT_EQ(empty.mean().item<double>(), 0.0);
}

// model.cosine_codebook: the NeuralFlow model's latents and the codes it quantizes to lie on the sphere
// of radius √d_latent (the nearest-code search itself is checked by tests/python/latent_reference.py).
TEST_F(ModelTest, CosineCodebookPutsLatentsAndCodesOnTheSphere) {
  ModelConfig config = small_config(2, false);
  config.arch = Architecture::kNeuralFlow;
  config.n_layers = 1;
  config.d_latent = 8;
  config.codebook_size = 6;
  config.max_paragraph_len = 16;
  const torch::Tensor tokens = torch::randint(config.vocab_size, {5, 7}, torch::kLong);
  const torch::Tensor lengths = torch::tensor({7, 3, 1, 5, 7}, torch::kLong);
  const double radius = std::sqrt(static_cast<double>(config.d_latent));
  for (const bool cosine : {true, false}) {
    config.cosine_codebook = cosine;
    ParagraphModel model(config);
    initialize(*model, InitOptions().with_seed(5).with_std(config.init_std).with_n_layers(config.n_layers));
    torch::NoGradGuard no_grad;
    const torch::Tensor latents = model->encode(tokens, lengths);
    const Quantized quantized = model->quantize(latents);
    const double latent_gap = (latents.norm(2, 1) - radius).abs().max().item<double>();
    const double code_gap = (quantized.quantized.norm(2, 1) - radius).abs().max().item<double>();
    if (cosine) {
      EXPECT_LT(latent_gap, 1e-5);
      EXPECT_LT(code_gap, 1e-5);
      // the stored codebook keeps its own scale; the model compares its directions
      EXPECT_GT((model->codebook().norm(2, 1) - radius).abs().max().item<double>(), 0.1);
    } else {
      EXPECT_GT(latent_gap, 0.1);
      EXPECT_GT(code_gap, 0.1);
    }
  }
}

TEST_F(ModelTest, TinyPresetForwardBackwardThroughput) {
  const std::string configs = std::string(NF_SOURCE_DIR) + "/configs";
  const train::TrainConfig config = train::load_train_config(configs + "/tiny.yaml", {}, {configs});
  CausalLM model(config.model);
  const int64_t count =
      initialize(*model, InitOptions().with_seed(config.training.seed).with_n_layers(config.model.n_layers));
  EXPECT_EQ(count, count_parameters(config.model));
  const int64_t batch = config.training.micro_batch_size, seq = config.training.seq_len;
  const torch::Tensor tokens = torch::randint(config.model.vocab_size, {batch, seq + 1}, torch::kLong);
  const auto step = [&] {
    const LossSum loss = cross_entropy_sum(model->forward(tokens.narrow(1, 0, seq)), tokens.narrow(1, 1, seq));
    loss.mean().backward();
    return loss.mean().item<double>();
  };
  const double first_loss = step();  // warm-up
  EXPECT_NEAR(first_loss, std::log(static_cast<double>(config.model.vocab_size)), 0.5);
  const int iterations = 3;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "tiny preset: " << count << " parameters, B=" << batch << " T=" << seq
            << ", 1 thread: " << iterations * batch * seq / seconds << " tokens/s forward+backward (fp32)\n";
}

}  // namespace
}  // namespace nf::model
