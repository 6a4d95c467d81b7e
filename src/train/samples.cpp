// Completions written during training (samples.h).
#include "samples.h"

#include "nf/core/error.h"
#include "nf/data/manifest.h"
#include "nf/data/prompts.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::train {

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
  prompt_ids_ = data::encode_prompts(prompts_, *tokenizer_, chat, config.model.max_seq_len);
  options_.max_new_tokens = config.sample.max_new_tokens;
  options_.sampling.temperature = config.sample.temperature;
  options_.sampling.seed = static_cast<uint64_t>(config.training.seed);
  const std::vector<data::TokenId> stops = data::completion_stop_tokens(*tokenizer_, prompts_, chat);
  options_.stop_tokens.assign(stops.begin(), stops.end());
  model::validate(options_);
}

std::vector<SampleRecord> TrainingSamples::generate(model::CausalLMImpl& model) const {
  // In batches of options_.batch_size (8), so that a long prompts file never makes one huge batch.
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
