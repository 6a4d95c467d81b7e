// Byte-level BPE (GPT-2 family): pre-tokenize, then merge the bytes of each piece by merge rank.
// Compatible with Hugging Face tokenizer.json files of GPT-2, Llama-3 and Qwen2 style
// (docs/tokenizers.md lists exactly what loads).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nf/data/bpe_cache.h"
#include "nf/data/pair_table.h"
#include "nf/data/pretokenizer.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

struct SpecialToken {
  std::string content;  // the literal string, e.g. "<|eos|>"
  TokenId id = 0;
};

struct BpeOptions {
  PreTokenizerPattern pattern = PreTokenizerPattern::kGpt2;
  bool add_prefix_space = false;  // ByteLevel(add_prefix_space): prepend " " unless text starts with one
  bool ignore_merges = false;     // a piece that is itself in the vocabulary becomes one token (Llama-3)
  bool nfc = false;               // NFC-normalize text before splitting (Qwen2); decode then gives NFC(x)
};

class BpeTokenizer : public Tokenizer {
 public:
  // `tokens[id]` holds the bytes of an ordinary token, or is empty for a special token or an id
  // without token. `merges` are (left, right) id pairs in rank order; the merged token is the
  // concatenation of their bytes and must be in `tokens`. Throws DataError when the vocabulary
  // lacks a single-byte token, a merge result, or has duplicate tokens; `origin` names the
  // source in those messages.
  BpeTokenizer(std::vector<std::string> tokens, std::vector<std::pair<TokenId, TokenId>> merges,
               std::vector<SpecialToken> specials, BpeOptions options, const std::string& origin = "tokenizer");

  std::string kind() const override { return "bpe"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::vector<TokenId> encode(std::string_view text) const override;
  std::string decode(const std::vector<TokenId>& ids) const override;
  std::optional<TokenId> special(SpecialRole role) const override;
  std::optional<TokenId> special_token(std::string_view content) const override;
  std::string fingerprint() const override;
  std::string save(const std::string& dir) const override;

  // encode(), with a caller-owned cache; appends to `out`.
  void encode(std::string_view text, BpeCache& cache, std::vector<TokenId>& out) const;

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::pair<TokenId, TokenId>>& merges() const { return merges_; }
  const std::vector<SpecialToken>& specials() const { return specials_; }
  const BpeOptions& options() const { return options_; }

 private:
  const MergeRule* find_merge(TokenId left, TokenId right) const { return merge_rules_.find(left, right); }
  void encode_piece(std::string_view piece, BpeCache& cache, std::vector<TokenId>& out) const;
  void merge_short(std::string_view piece, BpeCache& scratch) const;
  void merge_long(std::string_view piece, std::vector<TokenId>& parts) const;

  std::vector<std::string> tokens_;
  std::vector<std::pair<TokenId, TokenId>> merges_;
  std::vector<SpecialToken> specials_;
  BpeOptions options_;
  std::unordered_map<std::string, TokenId> ids_;  // ordinary tokens' bytes → id
  std::vector<TokenId> byte_ids_;                 // the id of each single byte
  PairTable merge_rules_;
  std::vector<bool> is_special_;
  std::map<SpecialRole, TokenId> roles_;
};

// Roles of well-known special-token strings: ours (<|bos|> …), GPT-2's <|endoftext|> (bos and
// eos), Llama-3's (<|begin_of_text|>, <|end_of_text|>, <|eot_id|>, <|finetune_right_pad_id|>),
// Qwen's <|im_end|> (end of turn).
std::vector<SpecialRole> roles_of_special(const std::string& content);

// The special tokens a trained tokenizer gets, in id order from 0, one per role.
const std::vector<std::string>& default_special_tokens();

}  // namespace nf::data
