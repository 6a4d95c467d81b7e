// Per-format encoding of Documents into token ids, loss masks and DPO spans.
#include "nf/data/document_encoder.h"

#include "nf/core/error.h"
#include "nf/data/record_parser.h"

namespace nf::data {
namespace {

bool is_chat(DatasetFormat format) { return format == DatasetFormat::kSft || format == DatasetFormat::kDpo; }

// The dataset format each segment role belongs to.
DatasetFormat format_of(SegmentRole role) {
  switch (role) {
    case SegmentRole::kText:
      return DatasetFormat::kPretrain;
    case SegmentRole::kSystem:
    case SegmentRole::kUser:
    case SegmentRole::kAssistant:
      return DatasetFormat::kSft;
    case SegmentRole::kPrompt:
    case SegmentRole::kChosen:
    case SegmentRole::kRejected:
      return DatasetFormat::kDpo;
    case SegmentRole::kContext:
    case SegmentRole::kNext:
      return DatasetFormat::kSequence;
  }
  return DatasetFormat::kPretrain;
}

const char* segment_role_name(SegmentRole role) {
  static constexpr const char* kNames[] = {"text",   "system",   "user",    "assistant", "prompt",
                                           "chosen", "rejected", "context", "next"};
  return kNames[static_cast<size_t>(role)];
}

}  // namespace

const char* special_role_marker(SpecialRole role) {
  static constexpr const char* kMarkers[] = {"<|bos|>",  "<|eos|>",       "<|pad|>", "<|system|>",
                                             "<|user|>", "<|assistant|>", "<|end|>"};
  return kMarkers[static_cast<size_t>(role)];
}

DocumentEncoder::DocumentEncoder(const Tokenizer& tokenizer, DatasetFormat format, ChatTemplateKind chat_template)
    : tokenizer_(tokenizer), format_(format) {
  if (is_chat(format)) {
    chat_.emplace(chat_template, tokenizer);
  } else {
    NF_CHECK(chat_template == ChatTemplateKind::kNf, UsageError, "chat template ", chat_template_name(chat_template),
             " applies to the sft and dpo formats, not ", format_name(format));
    special(SpecialRole::kEos);
  }
}

TokenId DocumentEncoder::special(SpecialRole role) const {
  const std::optional<TokenId> id = tokenizer_.special(role);
  if (id) return *id;
  const std::string fingerprint = tokenizer_.fingerprint().substr(0, 12);
  throw UsageError(std::string(format_name(format_)) + " needs " + special_role_marker(role) +
                       " (a special token for that role), and the " + tokenizer_.kind() + " tokenizer " + fingerprint +
                       " has none",
                   "use a tokenizer trained by `nf-shard tokenizer train` (it has every role), or one whose "
                   "special tokens include this role");
}

void DocumentEncoder::append(EncodedDocument& out, const std::vector<TokenId>& ids, uint8_t mask) const {
  out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
  if (format_ == DatasetFormat::kSft || format_ == DatasetFormat::kSequence) {
    out.loss_mask.insert(out.loss_mask.end(), ids.size(), mask);
  }
}

void DocumentEncoder::append(EncodedDocument& out, TokenId id, uint8_t mask) const {
  append(out, std::vector<TokenId>{id}, mask);
}

EncodedDocument DocumentEncoder::encode(const Document& document) const {
  std::vector<std::vector<TokenId>> segment_tokens;
  for (const Segment& segment : document.segments) segment_tokens.push_back(tokenizer_.encode(segment.text));
  return encode(document, segment_tokens);
}

EncodedDocument DocumentEncoder::encode(const Document& document,
                                        const std::vector<std::vector<TokenId>>& segment_tokens) const {
  NF_CHECK(segment_tokens.size() == document.segments.size(), DataError, document.source, ": ", segment_tokens.size(),
           " encoded segments for ", document.segments.size(), " segments");
  for (const Segment& segment : document.segments) {
    NF_CHECK(format_of(segment.role) == format_, DataError, document.source, ": a segment of role ",
             segment_role_name(segment.role), " cannot be encoded as ", format_name(format_), " data");
  }
  EncodedDocument out;
  out.metadata = document.metadata;
  out.source = document.source;
  switch (format_) {
    case DatasetFormat::kPretrain:
      encode_pretrain(document, segment_tokens, out);
      break;
    case DatasetFormat::kSft:
      encode_sft(document, segment_tokens, out);
      break;
    case DatasetFormat::kDpo:
      encode_dpo(document, segment_tokens, out);
      break;
    case DatasetFormat::kSequence:
      encode_sequence(document, segment_tokens, out);
      break;
  }
  return out;
}

// text ‖ <|eos|>
void DocumentEncoder::encode_pretrain(const Document& /*document*/, const std::vector<std::vector<TokenId>>& ids,
                                      EncodedDocument& out) const {
  for (const std::vector<TokenId>& text : ids) append(out, text, 0);
  append(out, special(SpecialRole::kEos), 0);
}

// Each turn is header ‖ content ‖ end-of-turn ‖ separator (chat_template.h), after the template's
// begin; the loss covers assistant content and its end-of-turn token.
void DocumentEncoder::encode_sft(const Document& document, const std::vector<std::vector<TokenId>>& ids,
                                 EncodedDocument& out) const {
  append(out, chat_->begin(), 0);
  for (size_t i = 0; i < document.segments.size(); ++i) {
    const SegmentRole role = document.segments[i].role;
    const ChatRole chat_role = role == SegmentRole::kSystem ? ChatRole::kSystem
                               : role == SegmentRole::kUser ? ChatRole::kUser
                                                            : ChatRole::kAssistant;
    const uint8_t trained = chat_role == ChatRole::kAssistant ? 1 : 0;
    append(out, chat_->header(chat_role), 0);
    append(out, ids[i], trained);
    append(out, chat_->end_of_turn(), trained);
    append(out, chat_->separator(), 0);
  }
}

// prompt = begin ‖ user header ‖ prompt ‖ end-of-turn ‖ separator ‖ assistant header,
// chosen = chosen ‖ end-of-turn, rejected = rejected ‖ end-of-turn; the spans are their token
// lengths.
void DocumentEncoder::encode_dpo(const Document& document, const std::vector<std::vector<TokenId>>& ids,
                                 EncodedDocument& out) const {
  const auto& segments = document.segments;
  NF_CHECK(segments.size() == 3 && segments[0].role == SegmentRole::kPrompt &&
               segments[1].role == SegmentRole::kChosen && segments[2].role == SegmentRole::kRejected,
           DataError, document.source, ": a dpo document is exactly a prompt, a chosen and a rejected segment");
  append(out, chat_->begin(), 0);
  append(out, chat_->header(ChatRole::kUser), 0);
  append(out, ids[0], 0);
  append(out, chat_->end_of_turn(), 0);
  append(out, chat_->separator(), 0);
  append(out, chat_->header(ChatRole::kAssistant), 0);
  DpoSpans spans;
  spans.prompt = out.tokens.size();
  append(out, ids[1], 0);
  append(out, chat_->end_of_turn(), 0);
  spans.chosen = out.tokens.size() - spans.prompt;
  append(out, ids[2], 0);
  append(out, chat_->end_of_turn(), 0);
  spans.rejected = out.tokens.size() - spans.prompt - spans.chosen;
  out.dpo = spans;
}

// Each paragraph ‖ <|eos|> with mask 0, then next ‖ <|eos|> with mask 1.
void DocumentEncoder::encode_sequence(const Document& document, const std::vector<std::vector<TokenId>>& ids,
                                      EncodedDocument& out) const {
  for (size_t i = 0; i < document.segments.size(); ++i) {
    const Segment& segment = document.segments[i];
    const uint8_t trained = segment.role == SegmentRole::kNext ? 1 : 0;
    append(out, ids[i], trained);
    append(out, special(SpecialRole::kEos), trained);
  }
}

}  // namespace nf::data
