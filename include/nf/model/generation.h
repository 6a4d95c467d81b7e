// Text generation from a CausalLM, as token ids (docs/generation.md): a batch of prompts, left-
// padded to one length, run through the model once, then one token per step with the KV cache
// (kv_cache.h), or without it by running the whole sequence again each step (the reference the
// cache is tested against). Greedy, or sampled with temperature, top-k and top-p from a generator
// seeded per prompt, so a prompt's output depends on the seed and its index, not on the batch it
// was run in, and never touches the global RNG (training's). Under tensor parallelism every tp rank
// runs the same call on the same prompts: the logits are gathered whole and every rank picks the
// same tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nf/model/transformer.h"

namespace nf::model {

struct SamplingOptions {
  double temperature = 0.0;  // 0 = greedy (argmax); > 0 divides the logits before sampling
  int64_t top_k = 0;         // > 0: sample among the k likeliest tokens only
  double top_p = 1.0;        // < 1: among the likeliest tokens whose probabilities sum to top_p
  uint64_t seed = 1234;      // prompt i samples from a generator seeded with seed + i
};

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  bool kv_cache = true;
  std::vector<int64_t> stop_tokens;  // a row ends after producing one (eos, end of turn)
  bool logprobs = false;             // record log p(token) of each generated token
  int64_t batch_size = 8;            // prompts run together (left-padded to the longest)
};

struct Generated {
  std::vector<int64_t> tokens;   // the new tokens, the stop token included
  std::vector<double> logprobs;  // log p of each under the model (temperature 1), when asked
  std::string finish_reason;     // "stop" (a stop token or the caller's stop), "length" (max_new_tokens
                                 // or the model's context)
};

// Called after each new token of prompt `row` (its index among all the prompts) with its tokens so far: true ends the
// row ("stop"), e.g. when the decoded text ends with a stop string.
using StopCheck = std::function<bool(size_t row, const std::vector<int64_t>& tokens)>;

// Checks the options (UsageError naming the one that is wrong and its range).
void validate(const GenerationOptions& options);

// Generates for every prompt (non-empty token ids, each shorter than model.max_seq_len: UsageError
// naming the prompt, counted from 1, and the fix otherwise), in batches of options.batch_size, and
// returns one Generated per prompt, in order. Prompt i samples with seed + i whatever its batch.
std::vector<Generated> generate(CausalLMImpl& model, const std::vector<std::vector<int64_t>>& prompts,
                                const GenerationOptions& options, const StopCheck& stop = {});

// The next token of each row from its logits [rows, vocab] (fp32), by `options`; `generators` one
// per row (sampling only).
torch::Tensor pick_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                          std::vector<at::Generator>& generators);

}  // namespace nf::model
