// load_tokenizer: every format, sentencepiece included (tokenizer_loader.h).
#include "nf/data/sentencepiece_tokenizer.h"
#include "nf/data/tokenizer_loader.h"

namespace nf::data {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  return load_tokenizer_with(path, [](const std::string& model) -> std::unique_ptr<Tokenizer> {
    return std::make_unique<SentencePieceTokenizer>(model);
  });
}

}  // namespace nf::data
