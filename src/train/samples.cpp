// Completions written during training (samples.h).
#include "samples.h"

#include "nf/core/error.h"
#include "nf/data/manifest.h"
#include "nf/data/prompts.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::train {

TrainingSamples::TrainingSamples(const TrainConfig& config) : interval_(config.sample.interval) {
  if (interval_ == 0) return;
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
  const std::vector<model::Generated> generated = model::generate(model, prompt_ids_, options_);
  std::vector<SampleRecord> records;
  for (size_t i = 0; i < generated.size(); ++i) {
    const std::vector<int64_t>& tokens = generated[i].tokens;
    records.push_back({data::prompt_text(prompts_[i]), data::completion_text(*tokenizer_, tokens, options_.stop_tokens),
                       tokens, generated[i].finish_reason});
  }
  return records;
}

}  // namespace nf::train
