// Continuing a text paragraph by paragraph with the NeuralFlow model (docs/neuralflow.md): the given
// paragraphs are encoded and quantized, the brain predicts the next latent, the decoder turns it
// (with the chosen emotion) into a paragraph, which joins the context for the next one.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <vector>

#include "nf/model/paragraph_model.h"

namespace nf::model {

struct ContinuationOptions {
  int64_t paragraphs = 1;    // new paragraphs
  int64_t emotion = -1;      // an index into model.emotions; −1 = none
  double temperature = 0.0;  // 0 = greedy
  int64_t eos_id = 0;        // ends a paragraph
};

struct Continuation {
  std::vector<std::vector<int64_t>> paragraphs;  // the new ones' tokens, without their <|eos|>
  std::vector<int64_t> codes;                    // the codebook index of each given paragraph
};

// `context`: the given paragraphs' tokens (without <|eos|>; at least one). Each paragraph is cut as
// the loader cuts it (max_paragraph_len with its <|eos|>); the brain reads the last
// max_paragraphs − 1 of them. Runs under torch::NoGradGuard itself.
Continuation continue_paragraphs(ParagraphModelImpl& model, const std::vector<std::vector<int64_t>>& context,
                                 const ContinuationOptions& options, std::optional<at::Generator> generator);

}  // namespace nf::model
