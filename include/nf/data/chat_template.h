// Chat templates: the tokens nf-shard puts around each turn of an sft conversation or a dpo pair
// (`nf-shard build --chat-template`, docs/data-format.md). A template is resolved against one
// tokenizer: its markers must be special tokens of that tokenizer (found by their literal string),
// and its plain-text parts are tokenized like content. Every part and every turn's content is
// tokenized on its own, so a part boundary is always a token boundary.
//
//   nf (default)  <|user|> content <|end|>                              our BPE's role tokens
//   llama3        <|begin_of_text|> once, then
//                 <|start_header_id|> "user" <|end_header_id|> "\n\n" content <|eot_id|>
//   chatml        <|im_start|> "user\n" content <|im_end|> "\n"
//
// The loss of an assistant turn covers its content and its end-of-turn token (<|end|>, <|eot_id|>,
// <|im_end|>), never the header or chatml's newline after the end-of-turn token.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nf/data/tokenizer.h"

namespace nf::data {

enum class ChatTemplateKind { kNf, kLlama3, kChatml };
enum class ChatRole { kSystem, kUser, kAssistant };

// "nf", "llama3", "chatml" and back; parse throws UsageError naming `where` and the choices.
const char* chat_template_name(ChatTemplateKind kind);
ChatTemplateKind parse_chat_template(const std::string& name, const std::string& where);

class ChatTemplate {
 public:
  // Throws UsageError naming the template, the special token the tokenizer lacks, and the fix. The
  // nf template's <|system|> is only needed once a system turn is encoded (header() throws then).
  ChatTemplate(ChatTemplateKind kind, const Tokenizer& tokenizer);

  ChatTemplateKind kind() const { return kind_; }
  // Before the first turn: llama3's <|begin_of_text|>; empty for the others.
  const std::vector<TokenId>& begin() const { return begin_; }
  // Before a turn's content (the role marker or header).
  const std::vector<TokenId>& header(ChatRole role) const;
  // Right after a turn's content: the end-of-turn token (trained on in assistant turns).
  const std::vector<TokenId>& end_of_turn() const { return end_of_turn_; }
  // After the end-of-turn token, never trained on: chatml's "\n"; empty for the others.
  const std::vector<TokenId>& separator() const { return separator_; }

 private:
  ChatTemplateKind kind_;
  std::vector<TokenId> begin_, end_of_turn_, separator_;
  std::optional<std::vector<TokenId>> headers_[3];  // by ChatRole; nf's system header may be missing
  std::string missing_system_;                      // the error for a system turn without a header
};

}  // namespace nf::data
