// One entry point for every tokenizer file nf reads. load_tokenizer is defined in the
// nf_sentencepiece library, because it can return a sentencepiece tokenizer; programs that link
// LibTorch (whose protobuf clashes with Debian's libsentencepiece) use load_tokenizer_with(path,
// nullptr), which reads the same files but refuses a sentencepiece .model with the fix.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "nf/data/tokenizer.h"

namespace nf::data {

// `path` is a tokenizer.json, a sentencepiece .model, or a directory holding tokenizer.json,
// vocab.json + merges.txt, or tokenizer.model (looked for in that order). Throws UsageError when
// the path is none of these, DataError when the file is malformed or unsupported.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Reads a sentencepiece .model; nullptr = this program cannot (UsageError naming the file).
using SentencePieceReader = std::function<std::unique_ptr<Tokenizer>(const std::string& model_path)>;
std::unique_ptr<Tokenizer> load_tokenizer_with(const std::string& path, const SentencePieceReader& sentencepiece);

}  // namespace nf::data
