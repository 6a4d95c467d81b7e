// Batched generation with and without the KV cache, and the sampling rules (generation.h).
#include "nf/model/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>

#include <algorithm>
#include <limits>

#include "nf/core/error.h"
#include "nf/parallel/tp/mappings.h"

namespace nf::model {
namespace {

// The last position's logits over the whole (unpadded) vocabulary, fp32 on the CPU: [rows, vocab].
torch::Tensor last_logits(const CausalLMImpl& model, const torch::Tensor& logits) {
  torch::Tensor last = logits.select(1, logits.size(1) - 1).contiguous();
  if (model.tp() != nullptr) last = parallel::tp::all_gather_last_dim(last, *model.tp());
  return last.narrow(-1, 0, model.config().vocab_size).to(torch::kCPU, torch::kFloat);
}

void check_prompts(const CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts) {
  const int64_t context = model.config().max_seq_len, vocab = model.config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t index = static_cast<int64_t>(i) + 1, length = static_cast<int64_t>(prompts[i].size());
    NF_CHECK(length > 0, UsageError, "prompt ", index, " is empty: give it at least one token of text");
    NF_CHECK(length < context, UsageError, "prompt ", index, " is ", length,
             " tokens long, and the model's context (model.max_seq_len) is ", context,
             " tokens: shorten the prompt so that it leaves room for the new tokens");
    for (const int64_t id : prompts[i]) {
      NF_CHECK(id >= 0 && id < vocab, UsageError, "prompt ", index, " holds token id ", id,
               ", outside the model's vocabulary [0, ", vocab, "): was it encoded with another tokenizer?");
    }
  }
}

}  // namespace

void validate(const GenerationOptions& options) {
  NF_CHECK(options.max_new_tokens >= 1, UsageError, "max new tokens is ", options.max_new_tokens,
           ": it must be at least 1");
  NF_CHECK(options.batch_size >= 1, UsageError, "batch size is ", options.batch_size, ": it must be at least 1");
  NF_CHECK(options.sampling.temperature >= 0.0, UsageError, "temperature is ", options.sampling.temperature,
           ": it must be 0 (greedy) or positive");
  NF_CHECK(options.sampling.top_k >= 0, UsageError, "top-k is ", options.sampling.top_k,
           ": it must be 0 (off) or positive");
  NF_CHECK(options.sampling.top_p > 0.0 && options.sampling.top_p <= 1.0, UsageError, "top-p is ",
           options.sampling.top_p, ": it must be in (0, 1] (1 = off)");
}

torch::Tensor pick_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                          std::vector<at::Generator>& generators) {
  if (options.temperature == 0.0) return logits.argmax(-1);
  constexpr float kNever = -std::numeric_limits<float>::infinity();
  torch::Tensor scores = logits / options.temperature;
  if (options.top_k > 0 && options.top_k < scores.size(-1)) {
    const torch::Tensor kth = std::get<0>(scores.topk(options.top_k, -1)).narrow(-1, options.top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, kNever);
  }
  if (options.top_p < 1.0) {
    // Keep the likeliest tokens until their probabilities reach top_p (the one that crosses it too).
    const auto [sorted, order] = scores.sort(-1, /*descending=*/true);
    const torch::Tensor probabilities = sorted.softmax(-1);
    const torch::Tensor drop_sorted = (probabilities.cumsum(-1) - probabilities) >= options.top_p;
    scores = scores.masked_fill(torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted), kNever);
  }
  const torch::Tensor probabilities = scores.softmax(-1);
  std::vector<torch::Tensor> picks;
  for (int64_t row = 0; row < probabilities.size(0); ++row) {
    picks.push_back(at::multinomial(probabilities[row], 1, /*replacement=*/false, generators.at(row)));
  }
  return torch::cat(picks);
}

namespace {

// One batch: prompts [first, first + prompts.size()) of the caller's list.
std::vector<Generated> generate_batch(CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                      size_t first, const GenerationOptions& options, const StopCheck& stop) {
  torch::NoGradGuard no_grad;
  const int64_t rows = static_cast<int64_t>(prompts.size()), context = model.config().max_seq_len;
  const torch::Device device = model.output_weight().device();
  int64_t longest = 0;
  for (const auto& prompt : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(prompt.size()));
  // Left-padded: every row's last prompt token is in the last column.
  torch::Tensor tokens = torch::zeros({rows, longest}, torch::kLong);
  torch::Tensor present = torch::zeros({rows, longest}, torch::kBool);
  std::vector<int64_t> length(prompts.size());
  std::vector<at::Generator> generators;
  for (int64_t row = 0; row < rows; ++row) {
    const auto& prompt = prompts[row];
    length[row] = static_cast<int64_t>(prompt.size());
    const int64_t pad = longest - length[row];
    tokens[row].narrow(0, pad, length[row]).copy_(torch::tensor(prompt, torch::kLong));
    present[row].narrow(0, pad, length[row]).fill_(true);
    generators.push_back(
        at::make_generator<at::CPUGeneratorImpl>(options.sampling.seed + static_cast<uint64_t>(first) + row));
  }

  std::vector<Generated> out(prompts.size());
  std::vector<bool> done(prompts.size(), false);
  KvCache cache;
  torch::Tensor step_tokens = tokens, step_present = present;  // what the next forward appends
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    torch::Tensor logits;
    if (options.kv_cache) {
      logits = model.forward_cached(step_tokens.to(device), step_present.to(device), cache);
    } else {  // the whole sequence again, from nothing
      KvCache fresh;
      logits = model.forward_cached(tokens.to(device), present.to(device), fresh);
    }
    const torch::Tensor last = last_logits(model, logits);
    const torch::Tensor next = pick_tokens(last, options.sampling, generators);
    const torch::Tensor log_probs = options.logprobs ? last.log_softmax(-1) : torch::Tensor();
    step_present = torch::zeros({rows, 1}, torch::kBool);
    for (int64_t row = 0; row < rows; ++row) {
      if (done[row]) continue;
      const int64_t id = next[row].item<int64_t>();
      Generated& result = out[row];
      result.tokens.push_back(id);
      if (options.logprobs) result.logprobs.push_back(log_probs[row][id].item<double>());
      step_present[row][0] = true;
      ++length[row];
      const bool stop_token =
          std::find(options.stop_tokens.begin(), options.stop_tokens.end(), id) != options.stop_tokens.end();
      if (stop_token || (stop && stop(first + static_cast<size_t>(row), result.tokens))) {
        done[row] = true, result.finish_reason = "stop";
      } else if (static_cast<int64_t>(result.tokens.size()) == options.max_new_tokens || length[row] >= context) {
        done[row] = true, result.finish_reason = "length";
      }
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    step_tokens = next.view({rows, 1});
    tokens = torch::cat({tokens, step_tokens}, 1);
    present = torch::cat({present, step_present}, 1);
  }
  return out;
}

}  // namespace

std::vector<Generated> generate(CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                const GenerationOptions& options, const StopCheck& stop) {
  validate(options);
  check_prompts(model, prompts);
  std::vector<Generated> out;
  const auto batch = static_cast<size_t>(options.batch_size);
  for (size_t first = 0; first < prompts.size(); first += batch) {
    const size_t end = std::min(prompts.size(), first + batch);
    for (Generated& result :
         generate_batch(model, {prompts.begin() + first, prompts.begin() + end}, first, options, stop)) {
      out.push_back(std::move(result));
    }
  }
  return out;
}

}  // namespace nf::model
