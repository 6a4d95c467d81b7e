// Picking a tokenizer's reader from the file name or the directory's contents (tokenizer_loader.h).
#include "nf/data/tokenizer_loader.h"

#include <filesystem>

#include "nf/core/error.h"
#include "nf/data/bpe_files.h"

namespace nf::data {
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_tokenizer_with(const std::string& path, const SentencePieceReader& sentencepiece) {
  const fs::path location(path);
  const auto read_model = [&](const fs::path& model) -> std::unique_ptr<Tokenizer> {
    NF_CHECK(sentencepiece != nullptr, UsageError, "'", model.string(),
             "' is a sentencepiece model, which this program cannot read (only nf-shard links sentencepiece); "
             "pass a tokenizer.json (transformers writes one with save_pretrained of a fast tokenizer)");
    return sentencepiece(model.string());
  };
  if (fs::is_directory(location)) {
    if (fs::exists(location / "tokenizer.json")) return load_bpe_tokenizer_json((location / "tokenizer.json").string());
    if (fs::exists(location / "vocab.json") && fs::exists(location / "merges.txt")) {
      return load_bpe_vocab_merges((location / "vocab.json").string(), (location / "merges.txt").string());
    }
    if (fs::exists(location / "tokenizer.model")) return read_model(location / "tokenizer.model");
    throw UsageError("directory '" + path + "' holds no tokenizer",
                     "expected tokenizer.json, vocab.json + merges.txt, or tokenizer.model in it");
  }
  NF_CHECK(fs::exists(location), UsageError, "tokenizer '", path, "' does not exist");
  if (location.extension() == ".json") return load_bpe_tokenizer_json(path);
  if (location.extension() == ".model") return read_model(location);
  throw UsageError("cannot tell the format of tokenizer '" + path + "'",
                   "pass a tokenizer.json, a sentencepiece .model, or a directory holding one");
}

}  // namespace nf::data
