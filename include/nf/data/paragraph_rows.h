// Rows of paragraphs for the NeuralFlow model (docs/neuralflow.md): a `sequence` document (its
// paragraphs, then `next`, each ending with <|eos|>: docs/data-format.md) becomes one row of
// max_paragraphs slots of max_paragraph_len tokens. The last max_paragraphs paragraphs (`next`
// the last) fill slots 0.. in order; a paragraph longer than a slot keeps its first
// max_paragraph_len − 1 tokens and its <|eos|>; unused slots and positions hold the pad id. The
// document's `emotion` metadata becomes an id into model.emotions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nf/data/token_dataset.h"

namespace nf::data {

struct ParagraphOptions {
  int64_t max_paragraphs = 0;  // 0: not a paragraph loader (packed or dpo rows instead)
  int64_t max_paragraph_len = 0;
  TokenId eos_id = 0;                 // what ends each paragraph
  std::vector<std::string> emotions;  // model.emotions: label -> its index; the first = unlabelled text
  bool require_emotion = false;       // an unlabelled document is an error (the emotion stage)

  bool enabled() const { return max_paragraphs > 0; }
  int64_t row_tokens() const { return max_paragraphs * max_paragraph_len; }
};

// Document `document`'s row: tokens [max_paragraphs · max_paragraph_len], lengths
// [max_paragraphs] (0 = an unused slot), its emotion id. `scratch` is reused between calls.
void fill_paragraph_row(const TokenDataset& dataset, uint64_t document, const ParagraphOptions& options, TokenId pad_id,
                        std::vector<TokenId>& scratch, TokenId* tokens, int64_t* lengths, int64_t* emotion);

// Every document's label checked once, before training: each is one of options.emotions, or empty
// where require_emotion is off. DataError naming the dataset, the document (its id metadata where
// it has one) and the fix.
void check_emotion_labels(const TokenDataset& dataset, const ParagraphOptions& options);

}  // namespace nf::data
