// SentencePiece .model files, through libsentencepiece (library nf_sentencepiece only: Debian's
// libsentencepiece must never be loaded into a process with LibTorch).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "nf/data/tokenizer.h"

namespace nf::data {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Loads a .model file; throws DataError naming the file when libsentencepiece rejects it.
  explicit SentencePieceTokenizer(const std::string& path);
  ~SentencePieceTokenizer() override;

  std::string kind() const override { return "sentencepiece"; }
  int64_t vocab_size() const override;
  // Control pieces (<s>, </s>) in the text stay text; user-defined pieces of the model do match
  // (that is how sentencepiece defines them).
  std::vector<TokenId> encode(std::string_view text) const override;
  std::string decode(const std::vector<TokenId>& ids) const override;
  std::optional<TokenId> special(SpecialRole role) const override;
  // A piece of the model (control and user-defined pieces are how special tokens exist there).
  std::optional<TokenId> special_token(std::string_view content) const override;
  // SHA-256 of the serialized model proto.
  std::string fingerprint() const override;
  std::string save(const std::string& dir) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::map<SpecialRole, TokenId> roles_;
};

}  // namespace nf::data
