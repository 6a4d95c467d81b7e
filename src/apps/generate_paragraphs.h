// nf-generate for a NeuralFlow checkpoint (model.arch neuralflow; docs/neuralflow.md): each prompt,
// its paragraphs separated by blank lines, is continued paragraph by paragraph, once per emotion
// asked for. One JSON line per (prompt, emotion), in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nf/data/tokenizer.h"
#include "nf/dist/job.h"
#include "nf/model/model_config.h"

struct ParagraphRequest {
  std::string weights;  // the step directory
  nf::model::ModelConfig config;
  const nf::data::Tokenizer* tokenizer = nullptr;
  std::vector<std::string> prompts;  // texts; a blank line separates paragraphs
  std::string prompts_file;          // JSONL of {"paragraphs": [...]} or {"prompt": text}
  std::string emotions;              // --emotion: labels separated by commas, "all", or "" (none)
  int64_t paragraphs = 1;
  double temperature = 0.0;
  uint64_t seed = 1234;
  std::string out;  // "" = standard output
};

int generate_paragraphs(const nf::dist::JobContext& job, const ParagraphRequest& request);
