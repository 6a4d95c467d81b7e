// load_tokenizer: picks the reader from the file name or the directory's contents.
#include "nf/data/tokenizer_loader.h"

#include <filesystem>

#include "nf/core/error.h"
#include "nf/data/bpe_files.h"
#include "nf/data/sentencepiece_tokenizer.h"

namespace nf::data {
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  const fs::path location(path);
  if (fs::is_directory(location)) {
    if (fs::exists(location / "tokenizer.json")) return load_bpe_tokenizer_json((location / "tokenizer.json").string());
    if (fs::exists(location / "vocab.json") && fs::exists(location / "merges.txt")) {
      return load_bpe_vocab_merges((location / "vocab.json").string(), (location / "merges.txt").string());
    }
    if (fs::exists(location / "tokenizer.model")) {
      return std::make_unique<SentencePieceTokenizer>((location / "tokenizer.model").string());
    }
    throw UsageError("directory '" + path + "' holds no tokenizer",
                     "expected tokenizer.json, vocab.json + merges.txt, or tokenizer.model in it");
  }
  NF_CHECK(fs::exists(location), UsageError, "tokenizer '", path, "' does not exist");
  if (location.extension() == ".json") return load_bpe_tokenizer_json(path);
  if (location.extension() == ".model") return std::make_unique<SentencePieceTokenizer>(path);
  throw UsageError("cannot tell the format of tokenizer '" + path + "'",
                   "pass a tokenizer.json, a sentencepiece .model, or a directory holding one");
}

}  // namespace nf::data
