// Reading and writing BPE tokenizers in Hugging Face's formats: tokenizer.json (tokenizers
// library) and GPT-2's vocab.json + merges.txt pair.
#pragma once

#include <memory>
#include <string>

#include "nf/data/bpe_tokenizer.h"

namespace nf::data {

// The tokenizer.json text of `tokenizer` (what BpeTokenizer::save writes).
std::string bpe_to_tokenizer_json(const BpeTokenizer& tokenizer);

// Loads a tokenizer.json with a byte-level BPE model. Throws DataError naming the file and the
// key when the file is not JSON or uses a model, normalizer, pre-tokenizer or decoder this
// implementation does not support (docs/tokenizers.md lists what is supported).
std::unique_ptr<BpeTokenizer> load_bpe_tokenizer_json(const std::string& path);

// Loads GPT-2's vocab.json + merges.txt; "<|endoftext|>" becomes a special token when present.
std::unique_ptr<BpeTokenizer> load_bpe_vocab_merges(const std::string& vocab_path, const std::string& merges_path);

}  // namespace nf::data
