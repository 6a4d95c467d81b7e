// Completions written during training (samples.h).
#include "samples.h"

#include <algorithm>

#include "nf/core/error.h"
#include "nf/data/manifest.h"
#include "nf/data/prompts.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::train {
namespace {

constexpr size_t kBatch = 8;  // prompts generated together

}  // namespace

TrainingSamples::TrainingSamples(const TrainConfig& config) : interval_(config.sample.interval) {
  if (interval_ == 0) return;
  NF_CHECK(!config.data.train_path.empty(), ConfigError,
           "data.train_path is empty: training.sample reads its "
           "tokenizer from the dataset; pass --data.train_path DIR (a dataset written by nf-shard build)");
  const data::Manifest manifest = data::read_manifest(config.data.train_path);
  tokenizer_ = data::load_tokenizer_with(config.data.train_path + "/" + manifest.tokenizer.file, nullptr);
  const std::optional<data::ChatTemplateKind> chat =
      manifest.chat_template.empty()
          ? std::nullopt
          : std::optional(data::parse_chat_template(manifest.chat_template, config.data.train_path + "/manifest.json"));
  prompts_ = data::read_prompts(config.sample.prompts_file);
  for (const data::Document& prompt : prompts_) {
    const std::vector<data::TokenId> ids = data::encode_prompt(prompt, *tokenizer_, chat);
    NF_CHECK(static_cast<int64_t>(ids.size()) < config.model.max_seq_len, UsageError, prompt.source, ": the prompt is ",
             ids.size(), " tokens, and model.max_seq_len is ", config.model.max_seq_len,
             ": shorten it (training.sample.prompts_file)");
    prompt_ids_.emplace_back(ids.begin(), ids.end());
  }
  options_.max_new_tokens = config.sample.max_new_tokens;
  options_.sampling.temperature = config.sample.temperature;
  options_.sampling.seed = static_cast<uint64_t>(config.training.seed);
  const std::vector<data::TokenId> stops = data::completion_stop_tokens(*tokenizer_, prompts_, chat);
  options_.stop_tokens.assign(stops.begin(), stops.end());
  model::validate(options_);
}

std::vector<SampleRecord> TrainingSamples::generate(model::CausalLMImpl& model) const {
  // In batches, so that a long prompts file never makes one huge batch; each prompt's seed is its
  // index, so the batching does not change what it samples.
  std::vector<model::Generated> generated;
  for (size_t first = 0; first < prompt_ids_.size(); first += kBatch) {
    model::GenerationOptions options = options_;
    options.first_index = static_cast<int64_t>(first);
    const size_t end = std::min(prompt_ids_.size(), first + kBatch);
    for (auto& result : model::generate(model, {prompt_ids_.begin() + first, prompt_ids_.begin() + end}, options)) {
      generated.push_back(std::move(result));
    }
  }
  std::vector<SampleRecord> records;
  for (size_t i = 0; i < generated.size(); ++i) {
    const std::vector<int64_t>& tokens = generated[i].tokens;
    records.push_back({data::prompt_text(prompts_[i]), data::completion_text(*tokenizer_, tokens, options_.stop_tokens),
                       tokens, generated[i].finish_reason});
  }
  return records;
}

}  // namespace nf::train
