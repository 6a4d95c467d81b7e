// Documents to tokens, per dataset format, exactly as docs/data-format.md ("How documents become
// tokens, per format") specifies: role tokens, end-of-turn and end-of-sequence tokens, the loss
// mask (sft, sequence) and the DPO spans (dpo).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nf/data/document.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

// Token lengths of a DPO document's three parts; the tokens are prompt ‖ chosen ‖ rejected.
struct DpoSpans {
  uint64_t prompt = 0;
  uint64_t chosen = 0;
  uint64_t rejected = 0;
};

struct EncodedDocument {
  std::vector<TokenId> tokens;
  std::vector<uint8_t> loss_mask;     // sft and sequence: one per token, 1 where it counts; else empty
  std::optional<DpoSpans> dpo_spans;  // dpo only
  std::map<std::string, std::string> metadata;
  std::string source;
};

class DocumentEncoder {
 public:
  // Checks that `tokenizer` has the special tokens `format` needs (pretrain and sequence: eos;
  // sft: user, assistant, end-of-turn, and system once a document has a system turn; dpo: user,
  // assistant, end-of-turn); throws UsageError naming the format, the role and the tokenizer.
  // `tokenizer` must outlive the encoder.
  DocumentEncoder(const Tokenizer& tokenizer, DatasetFormat format);

  // Throws DataError naming the document's source when a segment's role does not belong to the
  // format (a reader bug, not user data).
  EncodedDocument encode(const Document& document) const;

  DatasetFormat format() const { return format_; }

 private:
  TokenId special(SpecialRole role) const;
  void append(EncodedDocument& out, const std::vector<TokenId>& ids, uint8_t mask) const;
  void append(EncodedDocument& out, TokenId id, uint8_t mask) const;
  void encode_pretrain(const Document& document, EncodedDocument& out) const;
  void encode_sft(const Document& document, EncodedDocument& out) const;
  void encode_dpo(const Document& document, EncodedDocument& out) const;
  void encode_sequence(const Document& document, EncodedDocument& out) const;

  const Tokenizer& tokenizer_;
  DatasetFormat format_;
};

// "<|eos|>", "<|user|>", ...: the role's token in nf's own BPE, for messages.
const char* special_role_marker(SpecialRole role);

}  // namespace nf::data
