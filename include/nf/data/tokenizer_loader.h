// One entry point for every tokenizer file nf reads (defined in the nf_sentencepiece library,
// because it can return a sentencepiece tokenizer).
#pragma once

#include <memory>
#include <string>

#include "nf/data/tokenizer.h"

namespace nf::data {

// `path` is a tokenizer.json, a sentencepiece .model, or a directory holding tokenizer.json,
// vocab.json + merges.txt, or tokenizer.model (looked for in that order). Throws UsageError when
// the path is none of these, DataError when the file is malformed or unsupported.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace nf::data
