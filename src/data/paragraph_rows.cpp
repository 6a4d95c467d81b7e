// A sequence document as a row of paragraph slots (paragraph_rows.h).
#include "nf/data/paragraph_rows.h"

#include <algorithm>

#include "nf/core/error.h"

namespace nf::data {
namespace {

std::string describe(const TokenDataset& dataset, uint64_t document) {
  std::string where = "document " + std::to_string(document) + " of split '" + dataset.split() + "' of dataset '" +
                      dataset.directory() + "'";
  const std::string id = dataset.document_metadata("id", document);
  return id.empty() ? where : where + " (id '" + id + "')";
}

int64_t emotion_id(const TokenDataset& dataset, uint64_t document, const ParagraphOptions& options) {
  const std::string& label = dataset.document_metadata("emotion", document);
  if (label.empty()) {
    NF_CHECK(!options.require_emotion, DataError, describe(dataset, document),
             " has no emotion label, but the emotion stage trains on labelled text only; label every record of "
             "the input JSONL with an \"emotion\" field (scripts/neuralflow/emotion_rule.py labels the bundled "
             "corpus) and rebuild the dataset");
    return 0;
  }
  const auto found = std::find(options.emotions.begin(), options.emotions.end(), label);
  if (found == options.emotions.end()) {
    std::string known;
    for (const std::string& name : options.emotions) known += (known.empty() ? "" : ", ") + name;
    throw DataError(describe(dataset, document) + " has emotion '" + label + "', which model.emotions [" + known +
                        "] does not list",
                    "add '" + label + "' to model.emotions (a new model), or relabel the data");
  }
  return found - options.emotions.begin();
}

}  // namespace

void fill_paragraph_row(const TokenDataset& dataset, uint64_t document, const ParagraphOptions& options, TokenId pad_id,
                        std::vector<TokenId>& scratch, TokenId* tokens, int64_t* lengths, int64_t* emotion) {
  const TokenDataset::DocumentRef doc = dataset.document(document);
  scratch.resize(doc.length);
  dataset.copy_tokens(doc.begin, doc.length, scratch.data());
  // [begin, end) of each paragraph, its <|eos|> included (a last one without it ends the document).
  std::vector<std::pair<size_t, size_t>> paragraphs;
  size_t begin = 0;
  for (size_t i = 0; i < scratch.size(); ++i) {
    if (scratch[i] != options.eos_id) continue;
    paragraphs.emplace_back(begin, i + 1);
    begin = i + 1;
  }
  if (begin < scratch.size()) paragraphs.emplace_back(begin, scratch.size());
  const auto slots = static_cast<size_t>(options.max_paragraphs);
  const auto width = static_cast<size_t>(options.max_paragraph_len);
  const size_t first = paragraphs.size() > slots ? paragraphs.size() - slots : 0;
  std::fill(tokens, tokens + slots * width, pad_id);
  std::fill(lengths, lengths + slots, 0);
  for (size_t p = first; p < paragraphs.size(); ++p) {
    const auto [start, end] = paragraphs[p];
    const size_t length = std::min(end - start, width);
    TokenId* slot = tokens + (p - first) * width;
    std::copy(scratch.begin() + static_cast<std::ptrdiff_t>(start),
              scratch.begin() + static_cast<std::ptrdiff_t>(start + length), slot);
    if (length < end - start) slot[length - 1] = scratch[end - 1];  // cut: keep the paragraph's end
    lengths[p - first] = static_cast<int64_t>(length);
  }
  *emotion = emotion_id(dataset, document, options);
}

void check_emotion_labels(const TokenDataset& dataset, const ParagraphOptions& options) {
  for (uint64_t document = 0; document < dataset.num_documents(); ++document) emotion_id(dataset, document, options);
}

}  // namespace nf::data
