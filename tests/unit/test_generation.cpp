// Generation (issue 19): the KV cache against the training forward, left padding, the sampling
// rules, prompt records, and the UTF-8 repair of decoded completions. Token-for-token agreement with
// transformers' generate is tests/python/ecosystem/test_generate.sh's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "../support/tiny_model.h"
#include "nf/core/error.h"
#include "nf/data/prompts.h"
#include "nf/data/record_parser.h"
#include "nf/data/utf8.h"
#include "nf/model/generation.h"
#include "nf/model/transformer.h"

namespace nf::model {
namespace {

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    model_ = CausalLM(testing::tiny_model_config());
    initialize(*model_, InitOptions().with_seed(3).with_std(0.3).with_n_layers(2));
  }
  CausalLM model_{nullptr};
};

torch::Tensor row(const std::vector<int64_t>& ids) { return torch::tensor(ids, torch::kLong).unsqueeze(0); }

TEST_F(GenerationTest, CachedStepsEqualTheWholeSequence) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> ids = {5, 17, 3, 40, 22, 9, 31, 8};
  const torch::Tensor whole = model_->forward(row(ids));  // the training path: causal SDPA
  KvCache cache;
  const int64_t prefill = 3;
  std::vector<torch::Tensor> pieces = {model_->forward_cached(row({ids.begin(), ids.begin() + prefill}),
                                                              torch::ones({1, prefill}, torch::kBool), cache, true)};
  for (size_t i = prefill; i < ids.size(); ++i) {
    pieces.push_back(model_->forward_cached(row({ids[i]}), torch::ones({1, 1}, torch::kBool), cache));
  }
  EXPECT_EQ(cache.length(), static_cast<int64_t>(ids.size()));
  EXPECT_EQ(cache.layers.size(), 2u);
  EXPECT_TRUE(torch::allclose(torch::cat(pieces, 1), whole, 1e-5, 1e-5));
}

TEST_F(GenerationTest, LeftPaddingChangesNothing) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> ids = {5, 17, 3, 40};
  KvCache alone, padded;
  const torch::Tensor expected = model_->forward_cached(row(ids), torch::ones({1, 4}, torch::kBool), alone, true);
  const torch::Tensor present = torch::tensor({false, false, true, true, true, true}).unsqueeze(0);
  const torch::Tensor logits = model_->forward_cached(row({0, 0, 5, 17, 3, 40}), present, padded, true);
  EXPECT_TRUE(torch::allclose(logits.narrow(1, 2, 4), expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());  // padding rows attend to themselves
  KvCache last_only;                                        // by default the logits of the last position alone
  EXPECT_TRUE(torch::allclose(model_->forward_cached(row(ids), torch::ones({1, 4}, torch::kBool), last_only),
                              expected.narrow(1, 3, 1), 1e-6, 1e-6));
  // The next token continues both the same way.
  const torch::Tensor next_alone = model_->forward_cached(row({7}), torch::ones({1, 1}, torch::kBool), alone);
  const torch::Tensor next_padded = model_->forward_cached(row({7}), torch::ones({1, 1}, torch::kBool), padded);
  EXPECT_TRUE(torch::allclose(next_padded, next_alone, 1e-5, 1e-5));
}

TEST_F(GenerationTest, BatchesCacheAndNoCacheAgree) {
  const std::vector<std::vector<int64_t>> prompts = {{5, 17, 3}, {40}, {22, 9, 31, 8, 2}};
  GenerationOptions options;
  options.max_new_tokens = 6;
  options.logprobs = true;
  const auto batched = generate(*model_, prompts, options);
  options.kv_cache = false;
  const auto uncached = generate(*model_, prompts, options);
  options.kv_cache = true;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = generate(*model_, {prompts[i]}, options);
    EXPECT_EQ(batched[i].tokens, alone[0].tokens) << "prompt " << i;
    EXPECT_EQ(batched[i].tokens, uncached[i].tokens) << "prompt " << i;
    ASSERT_EQ(batched[i].logprobs.size(), 6u);
    for (size_t t = 0; t < 6; ++t) EXPECT_NEAR(batched[i].logprobs[t], uncached[i].logprobs[t], 1e-5);
    EXPECT_EQ(batched[i].finish_reason, "length");
  }
}

TEST_F(GenerationTest, StopsAtStopTokensTheCallerAndTheContext) {
  const std::vector<std::vector<int64_t>> prompts = {{5, 17, 3}};
  GenerationOptions options;
  options.max_new_tokens = 8;
  const auto free = generate(*model_, prompts, options)[0];
  ASSERT_EQ(free.tokens.size(), 8u);
  options.stop_tokens = {free.tokens[2]};
  const auto stopped = generate(*model_, prompts, options)[0];
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(stopped.tokens.back(), free.tokens[2]);
  EXPECT_LE(stopped.tokens.size(), 3u);
  options.stop_tokens.clear();
  const auto by_caller =
      generate(*model_, prompts, options, [](size_t, const std::vector<int64_t>& t) { return t.size() == 2; })[0];
  EXPECT_EQ(by_caller.tokens.size(), 2u);
  EXPECT_EQ(by_caller.finish_reason, "stop");
  // A prompt of max_seq_len - 2 tokens gets two new tokens: the context is full.
  options.max_new_tokens = 10;
  const auto full = generate(*model_, {std::vector<int64_t>(62, 4)}, options)[0];
  EXPECT_EQ(full.tokens.size(), 2u);
  EXPECT_EQ(full.finish_reason, "length");
  EXPECT_THROW(generate(*model_, {std::vector<int64_t>(64, 4)}, options), UsageError);
  EXPECT_THROW(generate(*model_, {{}}, options), UsageError);
  EXPECT_THROW(generate(*model_, {{61}}, options), UsageError);  // outside the vocabulary
}

TEST(Sampling, GreedyTopKAndTopP) {
  const torch::Tensor logits = torch::tensor({{0.0f, 3.0f, 2.9f, 1.0f, -1.0f}});
  std::vector<at::Generator> generators = {at::detail::createCPUGenerator(11)};
  SamplingOptions greedy;
  EXPECT_EQ(pick_tokens(logits, greedy, generators).item<int64_t>(), 1);
  SamplingOptions top2;
  top2.temperature = 5.0;  // nearly uniform, so only top-k keeps the draws on tokens 1 and 2
  top2.top_k = 2;
  SamplingOptions top_p;
  top_p.temperature = 1.0;
  top_p.top_p = 0.5;  // p(1) ≈ 0.46 < 0.5, so tokens 1 and 2 remain
  SamplingOptions hot;
  hot.temperature = 5.0;
  std::map<int64_t, int> k_counts, p_counts, hot_counts;
  for (int i = 0; i < 400; ++i) {
    ++k_counts[pick_tokens(logits, top2, generators).item<int64_t>()];
    ++p_counts[pick_tokens(logits, top_p, generators).item<int64_t>()];
    ++hot_counts[pick_tokens(logits, hot, generators).item<int64_t>()];
  }
  for (const auto& counts : {k_counts, p_counts}) {
    EXPECT_EQ(counts.size(), 2u);
    EXPECT_GT(counts.at(1), 100);
    EXPECT_GT(counts.at(2), 100);
  }
  EXPECT_EQ(hot_counts.size(), 5u);  // every token drawn at a high temperature
  GenerationOptions bad;
  bad.sampling.top_p = 0.0;
  EXPECT_THROW(validate(bad), UsageError);
}

TEST_F(GenerationTest, SeededPerPromptNotPerBatch) {
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.sampling.temperature = 1.5;
  options.sampling.seed = 9;
  const std::vector<std::vector<int64_t>> prompts = {{5, 17, 3}, {40, 2}};
  const auto both = generate(*model_, prompts, options);
  options.batch_size = 1;  // prompt 1 alone in its batch samples with seed + 1 all the same
  EXPECT_EQ(generate(*model_, prompts, options)[1].tokens, both[1].tokens);
  options.sampling.seed = 10;
  EXPECT_NE(generate(*model_, prompts, options)[0].tokens, both[0].tokens);
}

}  // namespace
}  // namespace nf::model

namespace nf::data {
namespace {

TEST(Prompts, RecordsAndTheirProblems) {
  Document prompt;
  ASSERT_FALSE(parse_prompt_record(R"({"prompt": "In the beginning", "id": 3})", prompt));
  EXPECT_FALSE(is_chat(prompt));
  EXPECT_EQ(prompt_text(prompt), "In the beginning");
  EXPECT_EQ(prompt.metadata.at("id"), "3");
  ASSERT_FALSE(parse_prompt_record(
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"from": "human", "value": "Who?"}]})", prompt));
  EXPECT_TRUE(is_chat(prompt));
  EXPECT_EQ(prompt_text(prompt), "system: Be brief.\nuser: Who?");
  const auto problem = [](const char* line) {
    Document ignored;
    const auto found = parse_prompt_record(line, ignored);
    return found ? found->reason : std::string("none");
  };
  EXPECT_EQ(problem(R"({"prompt": 3})"), "\"prompt\" is a number, expected a string");
  EXPECT_EQ(problem(R"({"messages": []})"), "\"messages\" has no text (empty or only whitespace)");
  EXPECT_NE(problem(R"({"text": "x"})").find("missing \"prompt\" or \"messages\""), std::string::npos);
  EXPECT_NE(problem(R"({"messages": [{"role": "robot", "content": "x"}]})").find("robot"), std::string::npos);
  EXPECT_NE(problem("[1]").find("an object"), std::string::npos);
}

TEST(Prompts, InvalidUtf8IsShownAsReplacementCharacters) {
  EXPECT_EQ(replace_invalid_utf8("abc"), "abc");
  EXPECT_EQ(replace_invalid_utf8("\xe6\x98\x8e"), "\xe6\x98\x8e");            // 明, whole
  EXPECT_EQ(replace_invalid_utf8("a\xe6\x98"), "a\xef\xbf\xbd\xef\xbf\xbd");  // cut inside
  EXPECT_EQ(replace_invalid_utf8("\xff"
                                 "b"),
            "\xef\xbf\xbd"
            "b");
}

}  // namespace
}  // namespace nf::data
