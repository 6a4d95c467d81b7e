// BpeTokenizer: vocabulary and merge tables, decoding, special roles and the fingerprint.
// Encoding lives in bpe_encode.cpp, training in bpe_trainer.cpp, files in bpe_json.cpp.
#include "nf/data/bpe_tokenizer.h"

#include "nf/core/error.h"
#include "nf/core/hash.h"

namespace nf::data {
namespace {}  // namespace

const std::vector<std::string>& default_special_tokens() {
  static const std::vector<std::string> kSpecials = {"<|bos|>",  "<|eos|>",       "<|pad|>", "<|system|>",
                                                     "<|user|>", "<|assistant|>", "<|end|>"};
  return kSpecials;
}

std::vector<SpecialRole> roles_of_special(const std::string& content) {
  static const std::map<std::string, std::vector<SpecialRole>> kRoles = {
      {"<|bos|>", {SpecialRole::kBos}},           {"<|eos|>", {SpecialRole::kEos}},
      {"<|pad|>", {SpecialRole::kPad}},           {"<|system|>", {SpecialRole::kSystem}},
      {"<|user|>", {SpecialRole::kUser}},         {"<|assistant|>", {SpecialRole::kAssistant}},
      {"<|end|>", {SpecialRole::kEndOfTurn}},     {"<|endoftext|>", {SpecialRole::kBos, SpecialRole::kEos}},
      {"<|begin_of_text|>", {SpecialRole::kBos}}, {"<|end_of_text|>", {SpecialRole::kEos}},
      {"<|eot_id|>", {SpecialRole::kEndOfTurn}},  {"<|finetune_right_pad_id|>", {SpecialRole::kPad}},
      {"<|im_end|>", {SpecialRole::kEndOfTurn}},
  };
  const auto found = kRoles.find(content);
  return found == kRoles.end() ? std::vector<SpecialRole>{} : found->second;
}

BpeTokenizer::BpeTokenizer(std::vector<std::string> tokens, std::vector<std::pair<TokenId, TokenId>> merges,
                           std::vector<SpecialToken> specials, BpeOptions options, const std::string& origin)
    : tokens_(std::move(tokens)), merges_(std::move(merges)), specials_(std::move(specials)), options_(options) {
  is_special_.assign(tokens_.size(), false);
  for (const SpecialToken& special : specials_) {
    NF_CHECK(special.id >= 0 && static_cast<size_t>(special.id) < tokens_.size() && tokens_[special.id].empty(),
             DataError, origin, ": special token '", special.content, "' has id ", special.id,
             " which is out of range or taken by an ordinary token");
    is_special_[special.id] = true;
    for (const SpecialRole role : roles_of_special(special.content)) roles_.emplace(role, special.id);
  }
  byte_ids_.assign(256, -1);
  for (size_t id = 0; id < tokens_.size(); ++id) {
    const std::string& bytes = tokens_[id];
    if (bytes.empty()) continue;
    const bool fresh = ids_.emplace(bytes, static_cast<TokenId>(id)).second;
    if (!fresh)
      throw DataError(
          origin + ": token id " + std::to_string(id) + " repeats the bytes of token id " + std::to_string(ids_[bytes]),
          "each token of the vocabulary must be unique");
    if (bytes.size() == 1) byte_ids_[static_cast<uint8_t>(bytes[0])] = static_cast<TokenId>(id);
  }
  for (int byte = 0; byte < 256; ++byte) {
    NF_CHECK(byte_ids_[byte] >= 0, DataError, origin, ": the vocabulary has no token for byte ", byte,
             "; a byte-level BPE needs all 256 single-byte tokens");
  }
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto [left, right] = merges_[rank];
    const auto merged = ids_.find(tokens_.at(left) + tokens_.at(right));
    NF_CHECK(merged != ids_.end(), DataError, origin, ": merge ", rank, " (ids ", left, " + ", right,
             ") makes a token that is not in the vocabulary");
    // The first (lowest) rank of a pair wins, as in Hugging Face's BPE.
    merge_rules_.insert(left, right, MergeRule{static_cast<int32_t>(rank), merged->second});
  }
}

std::string BpeTokenizer::decode(const std::vector<TokenId>& ids) const {
  std::string text;
  for (const TokenId id : ids) {
    NF_CHECK(id >= 0 && static_cast<size_t>(id) < tokens_.size(), DataError, "cannot decode token id ", id,
             ": the vocabulary has ", tokens_.size(), " ids");
    if (is_special_[id]) {
      for (const SpecialToken& special : specials_) {
        if (special.id == id) text += special.content;
      }
    } else {
      NF_CHECK(!tokens_[id].empty(), DataError, "cannot decode token id ", id, ": no token has this id");
      text += tokens_[id];
    }
  }
  return text;
}

std::optional<TokenId> BpeTokenizer::special(SpecialRole role) const {
  const auto found = roles_.find(role);
  if (found == roles_.end()) return std::nullopt;
  return found->second;
}

std::optional<TokenId> BpeTokenizer::special_token(std::string_view content) const {
  for (const SpecialToken& special : specials_) {
    if (special.content == content) return special.id;
  }
  return std::nullopt;
}

std::string BpeTokenizer::fingerprint() const {
  // Canonical form: every field that changes tokenization, each length-prefixed.
  Sha256 hash;
  const auto field = [&](const std::string& value) {
    const std::string length = std::to_string(value.size()) + ":";
    hash.update(length);
    hash.update(value);
  };
  field("nf-bpe-v1");
  field(pretokenizer_name(options_.pattern));
  field(options_.add_prefix_space ? "prefix-space" : "no-prefix-space");
  field(options_.ignore_merges ? "ignore-merges" : "use-merges");
  field(options_.nfc ? "nfc" : "no-normalizer");
  field(std::to_string(tokens_.size()));
  for (const std::string& token : tokens_) field(token);
  for (const auto& [left, right] : merges_) field(std::to_string(left) + " " + std::to_string(right));
  for (const SpecialToken& special : specials_) field(std::to_string(special.id) + " " + special.content);
  return hash.hex_digest();
}

}  // namespace nf::data
