// The tokenizer interface shared by nf-shard (which tokenizes) and the dataset format (which
// records the tokenizer's fingerprint so nf-train can refuse a mismatched dataset).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nf::data {

using TokenId = int32_t;

// Roles of special tokens. Each tokenizer maps a role to its own token string: our trained BPE
// uses <|bos|>, <|eos|>, <|pad|>, <|system|>, <|user|>, <|assistant|>, <|end|>; a loaded GPT-2
// tokenizer maps bos and eos to <|endoftext|>; Llama-3 and Qwen map their own markers.
enum class SpecialRole { kBos, kEos, kPad, kSystem, kUser, kAssistant, kEndOfTurn };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "bpe" or "sentencepiece".
  virtual std::string kind() const = 0;
  // Every id this tokenizer produces lies in [0, vocab_size()).
  virtual int64_t vocab_size() const = 0;
  // Encodes plain text. Special-token strings inside `text` are encoded as ordinary text, so
  // user data can never inject a control token.
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  // Inverse of encode: decode(encode(x)) == x for any valid UTF-8 x. Special tokens decode to
  // their strings.
  virtual std::string decode(const std::vector<TokenId>& ids) const = 0;
  // The id of a special role, when this tokenizer defines one.
  virtual std::optional<TokenId> special(SpecialRole role) const = 0;
  // The id of the special token whose literal string is `content` (e.g. "<|im_start|>"), when this
  // tokenizer has one; chat templates find their markers with it.
  virtual std::optional<TokenId> special_token(std::string_view content) const = 0;
  // SHA-256 (hex) of a canonical serialization of vocabulary, merges and special tokens: equal
  // fingerprints mean identical tokenization.
  virtual std::string fingerprint() const = 0;
  // Saves the tokenizer into `dir` in its native format; returns the file name written
  // ("tokenizer.json" for BPE, "tokenizer.model" for sentencepiece).
  virtual std::string save(const std::string& dir) const = 0;
};

}  // namespace nf::data
