// nf-generate's NeuralFlow path (generate_paragraphs.h).
#include "generate_paragraphs.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nf/ckpt/initial_weights.h"
#include "nf/core/atomic_file.h"
#include "nf/core/error.h"
#include "nf/dist/rank_device.h"
#include "nf/model/paragraph_generation.h"
#include "nf/model/transformer.h"

namespace {

// A prompt's paragraphs: its text split at blank lines, each trimmed; empty ones dropped.
std::vector<std::string> split_paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line, paragraph;
  const auto flush = [&] {
    if (!paragraph.empty()) out.push_back(paragraph);
    paragraph.clear();
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
    } else {
      paragraph += (paragraph.empty() ? "" : "\n") + line;
    }
  }
  flush();
  return out;
}

std::vector<std::vector<std::string>> read_prompts(const ParagraphRequest& request) {
  std::vector<std::vector<std::string>> prompts;
  for (const std::string& text : request.prompts) prompts.push_back(split_paragraphs(text));
  if (!request.prompts_file.empty()) {
    std::ifstream in(request.prompts_file);
    NF_CHECK(in.good(), nf::UsageError, "--prompts '", request.prompts_file, "' cannot be read");
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = request.prompts_file + ":" + std::to_string(number);
      const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      NF_CHECK(record.is_object(), nf::DataError, where, ": not a JSON object");
      std::vector<std::string> paragraphs;
      if (record.contains("paragraphs") && record["paragraphs"].is_array()) {
        for (const auto& paragraph : record["paragraphs"]) {
          NF_CHECK(paragraph.is_string(), nf::DataError, where, ": \"paragraphs\" must hold strings");
          paragraphs.push_back(paragraph.get<std::string>());
        }
      } else {
        NF_CHECK(record.contains("prompt") && record["prompt"].is_string(), nf::DataError, where,
                 ": give {\"paragraphs\": [text, ...]} or {\"prompt\": text}");
        paragraphs = split_paragraphs(record["prompt"].get<std::string>());
      }
      prompts.push_back(std::move(paragraphs));
    }
  }
  NF_CHECK(!prompts.empty(), nf::UsageError, "no prompt: pass --prompt TEXT or --prompts FILE.jsonl");
  for (size_t i = 0; i < prompts.size(); ++i) {
    NF_CHECK(!prompts[i].empty(), nf::UsageError, "prompt ", i + 1, " has no paragraph of text");
  }
  return prompts;
}

// The emotions to generate with: --emotion's labels ("all": every label of model.emotions), as
// indices; none given = one run without an emotion (−1).
std::vector<int64_t> emotion_ids(const ParagraphRequest& request) {
  const std::vector<std::string>& known = request.config.emotions;
  if (request.emotions.empty()) return {-1};
  std::vector<int64_t> ids;
  if (request.emotions == "all") {
    for (size_t i = 0; i < known.size(); ++i) ids.push_back(static_cast<int64_t>(i));
    return ids;
  }
  std::istringstream in(request.emotions);
  for (std::string label; std::getline(in, label, ',');) {
    const auto found = std::find(known.begin(), known.end(), label);
    if (found == known.end()) {
      std::string choices;
      for (const std::string& name : known) choices += (choices.empty() ? "" : ", ") + name;
      throw nf::UsageError("--emotion '" + label + "' is not one of the model's emotions (" + choices + ")",
                           "pass one of them, several separated by commas, or all");
    }
    ids.push_back(found - known.begin());
  }
  return ids;
}

}  // namespace

int generate_paragraphs(const nf::dist::JobContext& job, const ParagraphRequest& request) {
  NF_CHECK(job.world_size == 1, nf::UsageError, "nf-generate runs a neuralflow model on one rank; launch it alone");
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<std::string>> prompts = read_prompts(request);
  const std::vector<int64_t> emotions = emotion_ids(request);
  const std::optional<nf::data::TokenId> eos = request.tokenizer->special(nf::data::SpecialRole::kEos);
  NF_CHECK(eos.has_value(), nf::UsageError, "the tokenizer has no end-of-sequence token, which ends a paragraph");

  const c10::Device device = nf::dist::rank_device(job);
  nf::model::ParagraphModel model(request.config);
  model->to(device);
  nf::ckpt::load_model_weights(request.weights, request.config, nullptr, nf::model::named_parameters(*model));
  model->eval();

  std::ostringstream out;
  int64_t new_paragraphs = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<std::vector<int64_t>> context;
    for (const std::string& paragraph : prompts[i]) {
      const std::vector<nf::data::TokenId> ids = request.tokenizer->encode(paragraph);
      context.emplace_back(ids.begin(), ids.end());
    }
    for (const int64_t emotion : emotions) {
      nf::model::ContinuationOptions options;
      options.paragraphs = request.paragraphs;
      options.emotion = emotion;
      options.temperature = request.temperature;
      options.eos_id = *eos;
      // Prompt i samples with seed + i, whatever the emotion: the emotion is the only difference.
      at::Generator generator = at::detail::createCPUGenerator(request.seed + i);
      const nf::model::Continuation made = nf::model::continue_paragraphs(*model, context, options, generator);
      std::vector<std::string> texts;
      for (const std::vector<int64_t>& tokens : made.paragraphs) {
        texts.push_back(request.tokenizer->decode(std::vector<nf::data::TokenId>(tokens.begin(), tokens.end())));
      }
      std::string text;
      for (const std::string& paragraph : texts) text += (text.empty() ? "" : "\n\n") + paragraph;
      nlohmann::ordered_json record = {
          {"index", i},
          {"prompt", prompts[i]},
          {"emotion", emotion < 0 ? "" : request.config.emotions[static_cast<size_t>(emotion)]},
          {"paragraphs", texts},
          {"text", text},
          {"codes", made.codes}};
      out << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";  // a cut UTF-8 sequence: U+FFFD
      new_paragraphs += static_cast<int64_t>(texts.size());
    }
  }
  if (request.out.empty()) {
    std::cout << out.str() << std::flush;
  } else {
    nf::write_file_atomic(request.out, out.str());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "nf-generate: " << prompts.size() << " prompt(s) x " << emotions.size() << " emotion(s), "
            << new_paragraphs << " new paragraphs in " << seconds << " s (neuralflow, " << device.str() << ")\n";
  return 0;
}
