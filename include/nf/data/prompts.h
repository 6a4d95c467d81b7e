// Prompts for generation (nf-generate, training.sample; docs/generation.md), read from JSONL or the
// command line, and the tokens a model starts generating from: a plain prompt is encoded as
// pretraining text is (no bos, no eos); a conversation as nf-shard encodes sft turns (the chat
// template's begin, each turn's header, content, end-of-turn and separator), followed by the
// assistant's header, so the model answers as it was trained to.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nf/data/chat_template.h"
#include "nf/data/document.h"
#include "nf/data/tokenizer.h"

namespace nf::data {

// A prompt is a Document: one kText segment (plain) or system/user/assistant turns (chat);
// `source` names where it came from ("file.jsonl:3", "--prompt 1").
Document plain_prompt(std::string text, std::string source);
bool is_chat(const Document& prompt);

// Every non-blank line of `path` (parse_prompt_record). DataError naming path:line, the problem and
// the accepted shapes; UsageError when the file cannot be read or holds no prompt.
std::vector<Document> read_prompts(const std::string& path);

// The prompt's tokens; `chat` is required for a conversation (UsageError naming the prompt's source
// and the fix otherwise; chat_template.h's UsageError when the tokenizer lacks its markers).
std::vector<TokenId> encode_prompt(const Document& prompt, const Tokenizer& tokenizer,
                                   std::optional<ChatTemplateKind> chat);

// encode_prompt of each prompt, as token ids, each checked to be shorter than the model's context of
// `context` tokens (model.max_seq_len), so that it leaves room for new ones: UsageError naming the
// prompt's source, its length and the fix otherwise.
std::vector<std::vector<int64_t>> encode_prompts(const std::vector<Document>& prompts, const Tokenizer& tokenizer,
                                                 std::optional<ChatTemplateKind> chat, int64_t context);

// The tokens that end a completion: the tokenizer's eos, and when `prompts` hold a conversation,
// the chat template's end-of-turn token.
std::vector<TokenId> completion_stop_tokens(const Tokenizer& tokenizer, const std::vector<Document>& prompts,
                                            std::optional<ChatTemplateKind> chat);

// A completion's text: `tokens` decoded without a final stop token (one of `stop_tokens`), cut
// before the first of `stop_strings` it contains, with bytes that do not form UTF-8 (a completion
// may end inside a character) shown as U+FFFD.
std::string completion_text(const Tokenizer& tokenizer, const std::vector<int64_t>& tokens,
                            const std::vector<int64_t>& stop_tokens, const std::vector<std::string>& stop_strings = {});

// The prompt as its output records show it: the text, or the turns as "role: content" lines.
std::string prompt_text(const Document& prompt);

}  // namespace nf::data
