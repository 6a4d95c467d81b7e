// The three chat templates, resolved against a tokenizer's special tokens.
#include "nf/data/chat_template.h"

#include "nf/core/error.h"

namespace nf::data {
namespace {

constexpr ChatTemplateKind kKinds[] = {ChatTemplateKind::kNf, ChatTemplateKind::kLlama3, ChatTemplateKind::kChatml};
constexpr const char* kRoleNames[] = {"system", "user", "assistant"};

// Builds token sequences from parts: special tokens by their literal string, text by encode().
class Parts {
 public:
  Parts(ChatTemplateKind kind, const Tokenizer& tokenizer) : kind_(kind), tokenizer_(tokenizer) {}

  Parts& marker(const std::string& content) {
    const std::optional<TokenId> id = tokenizer_.special_token(content);
    if (!id) throw missing(content);
    ids_.push_back(*id);
    return *this;
  }
  Parts& text(const std::string& text) {
    const std::vector<TokenId> ids = tokenizer_.encode(text);
    ids_.insert(ids_.end(), ids.begin(), ids.end());
    return *this;
  }
  std::vector<TokenId> take() { return std::move(ids_); }

  UsageError missing(const std::string& content) const {
    return UsageError(std::string("chat template ") + chat_template_name(kind_) + " needs the special token " +
                          content + ", and the " + tokenizer_.kind() + " tokenizer " +
                          tokenizer_.fingerprint().substr(0, 12) + " has none",
                      kind_ == ChatTemplateKind::kNf
                          ? "use a tokenizer trained by `nf-shard tokenizer train` (it has every role), or pass "
                            "--chat-template llama3 or chatml for a tokenizer with those markers"
                          : "pass the template this tokenizer was made for (--chat-template nf for a tokenizer "
                            "trained by nf-shard)");
  }

 private:
  ChatTemplateKind kind_;
  const Tokenizer& tokenizer_;
  std::vector<TokenId> ids_;
};

}  // namespace

const char* chat_template_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kNf:
      return "nf";
    case ChatTemplateKind::kLlama3:
      return "llama3";
    case ChatTemplateKind::kChatml:
      return "chatml";
  }
  return "nf";
}

ChatTemplateKind parse_chat_template(const std::string& name, const std::string& where) {
  for (ChatTemplateKind kind : kKinds) {
    if (name == chat_template_name(kind)) return kind;
  }
  throw UsageError(where + ": unknown chat template '" + name + "'", "use nf, llama3 or chatml");
}

ChatTemplate::ChatTemplate(ChatTemplateKind kind, const Tokenizer& tokenizer) : kind_(kind) {
  Parts parts(kind, tokenizer);
  switch (kind) {
    case ChatTemplateKind::kNf:
      // The role tokens of nf's BPE (or any tokenizer whose specials map to these roles).
      for (const auto& [role, special] :
           {std::pair{ChatRole::kSystem, SpecialRole::kSystem}, std::pair{ChatRole::kUser, SpecialRole::kUser},
            std::pair{ChatRole::kAssistant, SpecialRole::kAssistant}}) {
        const char* marker = role == ChatRole::kSystem ? "<|system|>"
                             : role == ChatRole::kUser ? "<|user|>"
                                                       : "<|assistant|>";
        const std::optional<TokenId> id = tokenizer.special(special);
        if (id) {
          headers_[static_cast<int>(role)] = std::vector<TokenId>{*id};
        } else if (role != ChatRole::kSystem) {
          throw parts.missing(marker);
        }
      }
      if (const std::optional<TokenId> end = tokenizer.special(SpecialRole::kEndOfTurn)) {
        end_of_turn_ = {*end};
      } else {
        throw parts.missing("<|end|>");
      }
      missing_system_ = parts.missing("<|system|>").what();
      break;
    case ChatTemplateKind::kLlama3:
      begin_ = parts.marker("<|begin_of_text|>").take();
      for (int role = 0; role < 3; ++role) {
        headers_[role] =
            parts.marker("<|start_header_id|>").text(kRoleNames[role]).marker("<|end_header_id|>").text("\n\n").take();
      }
      end_of_turn_ = parts.marker("<|eot_id|>").take();
      break;
    case ChatTemplateKind::kChatml:
      for (int role = 0; role < 3; ++role) {
        headers_[role] = parts.marker("<|im_start|>").text(std::string(kRoleNames[role]) + "\n").take();
      }
      end_of_turn_ = parts.marker("<|im_end|>").take();
      separator_ = parts.text("\n").take();
      break;
  }
}

const std::vector<TokenId>& ChatTemplate::header(ChatRole role) const {
  const auto& header = headers_[static_cast<int>(role)];
  if (!header) throw UsageError(missing_system_, "leave out system turns, or use a tokenizer with a <|system|> token");
  return *header;
}

}  // namespace nf::data
