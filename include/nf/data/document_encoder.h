// Documents to tokens, per dataset format, exactly as docs/data-format.md ("How documents become
// tokens, per format") specifies: the chat template's tokens around each turn (sft, dpo),
// end-of-sequence tokens, the loss mask (sft, sequence) and the DPO spans (dpo).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/chat_template.h"
#include "nf/data/document.h"
#include "nf/data/encoded_document.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

class DocumentEncoder {
 public:
  // Checks that `tokenizer` has the special tokens `format` needs (pretrain and sequence: eos;
  // sft and dpo: those of `chat_template`, chat_template.h); throws UsageError naming the format or
  // template, the token and the tokenizer. `chat_template` applies to sft and dpo only (UsageError
  // for another with the other formats). `tokenizer` must outlive the encoder.
  DocumentEncoder(const Tokenizer& tokenizer, DatasetFormat format,
                  ChatTemplateKind chat_template = ChatTemplateKind::kNf);

  // Throws DataError naming the document's source when a segment's role does not belong to the
  // format (a reader bug, not user data).
  EncodedDocument encode(const Document& document) const;
  // The same, with each segment's text already encoded: segment_tokens[i] is the tokenizer's
  // encoding of document.segments[i].text (the builder encodes whole batches on many threads).
  EncodedDocument encode(const Document& document, const std::vector<std::vector<TokenId>>& segment_tokens) const;

  DatasetFormat format() const { return format_; }

 private:
  TokenId special(SpecialRole role) const;
  void append(EncodedDocument& out, const std::vector<TokenId>& ids, uint8_t mask) const;
  void append(EncodedDocument& out, TokenId id, uint8_t mask) const;
  void encode_pretrain(const Document& document, const std::vector<std::vector<TokenId>>& ids,
                       EncodedDocument& out) const;
  void encode_sft(const Document& document, const std::vector<std::vector<TokenId>>& ids, EncodedDocument& out) const;
  void encode_dpo(const Document& document, const std::vector<std::vector<TokenId>>& ids, EncodedDocument& out) const;
  void encode_sequence(const Document& document, const std::vector<std::vector<TokenId>>& ids,
                       EncodedDocument& out) const;

  const Tokenizer& tokenizer_;
  DatasetFormat format_;
  std::optional<ChatTemplate> chat_;  // sft and dpo
};

// "<|eos|>", "<|user|>", ...: the role's token in nf's own BPE, for messages.
const char* special_role_marker(SpecialRole role);

}  // namespace nf::data
